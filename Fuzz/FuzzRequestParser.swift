// libFuzzer entry point for the HTTP/1.1 head parser and chunked framing decoder.
// Built by `make fuzz` with `swiftc -sanitize=fuzzer,address` together with the codec's
// pure source files (they import nothing but the standard library).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var limits = HTTPLimits()
    limits.headBytesMax = 4096
    limits.headerCountMax = 32
    switch HTTPHeadParser.parseRequest(bytes, limits: limits) {
    case .complete(let head, let consumed):
        precondition(consumed > 0 && consumed <= size, "consumed out of range")
        precondition(head.target.hasPrefix("/") || head.target == "*", "accepted a non-path target")
        // The framing of an accepted head must be decidable and the body decodable.
        if case .chunked? = try? HTTPBodyFraming.forRequest(head) {
            var decoder = ChunkedBodyDecoder(limits: limits)
            var offset = consumed
            while offset < size {
                guard let used = try? decoder.consumeFraming(UnsafeRawBufferPointer(rebasing: bytes[offset...])) else { break }
                offset += used
                if decoder.phase == .data {
                    let take = min(decoder.chunkRemaining, size - offset)
                    if take == 0 { break }
                    decoder.consumedData(take)
                    offset += take
                } else if decoder.phase == .done || used == 0 {
                    break
                }
            }
            precondition(offset <= size)
        }
    case .failed(let error):
        precondition([400, 414, 431, 501, 505].contains(error.status), "unexpected status \(error.status)")
    case .incomplete:
        precondition(size < limits.headBytesMax, "incomplete past the head limit")
    }
    _ = HTTPHeadParser.parseResponse(bytes, limits: limits)
    return 0
}
