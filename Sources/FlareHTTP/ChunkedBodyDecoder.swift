/// The framing of a `Transfer-Encoding: chunked` body, as a pure state machine.
///
/// It consumes only framing (size lines, the CRLF after data, trailers). When it reaches
/// data it stops and reports how many data bytes follow, so the body reader can receive
/// them straight into the caller's buffer.
public struct ChunkedBodyDecoder: Sendable {
    public enum Phase: Sendable, Equatable {
        case size
        case data
        case dataEnd
        case trailers
        case done
    }

    public private(set) var phase = Phase.size
    /// Data bytes left in the current chunk (meaningful in `.data`).
    public private(set) var chunkRemaining = 0
    private var trailerBytes = 0
    private let limits: HTTPLimits

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Consumes framing from the front of `bytes`. Stops at data, at the end of the body, or
    /// when the bytes run out mid-line (then call again with more). Returns bytes consumed.
    public mutating func consumeFraming(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int {
        var offset = 0
        while true {
            switch phase {
            case .data, .done:
                return offset
            case .size:
                guard let lineEnd = try findLineEnd(bytes, from: offset, limit: limits.chunkLineBytesMax) else { return offset }
                chunkRemaining = try parseSizeLine(UnsafeRawBufferPointer(rebasing: bytes[offset..<lineEnd]))
                offset = lineEnd + 2
                phase = chunkRemaining == 0 ? .trailers : .data
            case .dataEnd:
                guard bytes.count - offset >= 2 else { return offset }
                guard bytes[offset] == cr && bytes[offset + 1] == lf else {
                    throw HTTPParseError(status: 400, "chunk data not followed by CRLF")
                }
                offset += 2
                phase = .size
            case .trailers:
                guard let lineEnd = try findLineEnd(bytes, from: offset, limit: limits.trailerBytesMax - trailerBytes) else {
                    return offset
                }
                trailerBytes += lineEnd + 2 - offset
                if trailerBytes > limits.trailerBytesMax { throw HTTPParseError(status: 400, "chunked trailers too large") }
                if lineEnd == offset { phase = .done }
                offset = lineEnd + 2
            }
        }
    }

    /// Records that `count` data bytes of the current chunk were delivered.
    public mutating func consumedData(_ count: Int) {
        precondition(phase == .data && count <= chunkRemaining, "chunk data overrun")
        chunkRemaining -= count
        if chunkRemaining == 0 { phase = .dataEnd }
    }

    /// The index of the CR of the next CRLF at or after `from`; `nil` if more bytes are
    /// needed. Throws on bare CR/LF or a line longer than `limit`.
    private func findLineEnd(_ bytes: UnsafeRawBufferPointer, from: Int, limit: Int) throws(HTTPParseError) -> Int? {
        var index = from
        while index < bytes.count {
            if index - from > limit { throw HTTPParseError(status: 400, "chunk framing line too long") }
            let byte = bytes[index]
            if byte == lf { throw HTTPParseError(status: 400, "bare LF in chunk framing") }
            if byte == cr {
                guard index + 1 < bytes.count else { return nil }
                guard bytes[index + 1] == lf else { throw HTTPParseError(status: 400, "bare CR in chunk framing") }
                return index
            }
            index += 1
        }
        if index - from > limit { throw HTTPParseError(status: 400, "chunk framing line too long") }
        return nil
    }

    private func parseSizeLine(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int {
        var size = 0
        var digits = 0
        for byte in line {
            if byte == 0x3b { break }  // ';' starts chunk extensions, which we ignore.
            let value: Int
            switch byte {
            case 0x30...0x39: value = Int(byte - 0x30)
            case 0x41...0x46: value = Int(byte - 0x41 + 10)
            case 0x61...0x66: value = Int(byte - 0x61 + 10)
            default: throw HTTPParseError(status: 400, "invalid chunk size")
            }
            digits += 1
            guard digits <= 15 else { throw HTTPParseError(status: 400, "chunk size too large") }
            size = size << 4 | value
        }
        guard digits > 0 else { throw HTTPParseError(status: 400, "missing chunk size") }
        return size
    }
}
