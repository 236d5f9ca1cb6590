import FlareIO

/// The body of a request (server side) or response (client side), read piece by piece into
/// memory the caller provides.
///
/// Bytes that arrived together with the head are copied out of the connection's small read
/// buffer; everything after that is received directly into the caller's buffer.
public final class HTTPBodyReader: @unchecked Sendable {
    /// How the body is delimited.
    public let framing: HTTPBodyFraming
    /// Whether the whole body has been read.
    public private(set) var isComplete: Bool
    /// Body bytes delivered so far.
    public private(set) var bytesRead = 0

    private let stream: HTTPStream
    private var remaining: Int
    private var chunked: ChunkedBodyDecoder
    /// Runs before the first read: the server sends `100 Continue` here, so a client that
    /// asked for it is told to send the body only when the handler really wants it.
    var beforeFirstRead: (() async throws(HTTPError) -> Void)?

    init(stream: HTTPStream, framing: HTTPBodyFraming) {
        self.stream = stream
        self.framing = framing
        self.chunked = ChunkedBodyDecoder(limits: stream.limits)
        switch framing {
        case .length(let count):
            remaining = count
            isComplete = count == 0
        case .chunked, .untilClose:
            remaining = 0
            isComplete = false
        }
    }

    /// The declared length, when the body has one.
    public var contentLength: Int? {
        if case .length(let count) = framing { return count }
        return nil
    }

    /// Reads up to `buffer.count` bytes; returns 0 only at the end of the body.
    /// - Throws: ``HTTPError`` — `.connectionClosed` when the peer stops before the body's
    ///   end, `.timedOut` when it stalls, `.malformed` for bad chunk framing.
    public func read(into buffer: UnsafeMutableRawBufferPointer) async throws(HTTPError) -> Int {
        guard !isComplete, buffer.count > 0 else { return 0 }
        if let hook = beforeFirstRead {
            beforeFirstRead = nil
            try await hook()
        }
        switch framing {
        case .length:
            let got = try await readData(into: buffer, upTo: remaining, endIsError: true)
            remaining -= got
            if remaining == 0 { isComplete = true }
            bytesRead += got
            return got
        case .chunked:
            while true {
                switch chunked.phase {
                case .done:
                    isComplete = true
                    return 0
                case .data:
                    let got = try await readData(into: buffer, upTo: chunked.chunkRemaining, endIsError: true)
                    chunked.consumedData(got)
                    bytesRead += got
                    return got
                case .size, .dataEnd, .trailers:
                    let consumed: Int
                    do {
                        consumed = try chunked.consumeFraming(stream.buffered)
                    } catch {
                        throw .malformed(error)
                    }
                    stream.consume(consumed)
                    if chunked.phase != .data && chunked.phase != .done {
                        if try await fillStream() == 0 { throw .connectionClosed("in the middle of a chunked body") }
                    }
                }
            }
        case .untilClose:
            let got = try await readData(into: buffer, upTo: Int.max, endIsError: false)
            if got == 0 { isComplete = true }
            bytesRead += got
            return got
        }
    }

    /// Reads until `buffer` is full or the body ends; returns the bytes read.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) async throws(HTTPError) -> Int {
        try await readFully(into: buffer) { _ in }
    }

    /// Reads until `buffer` is full or the body ends, handing each run of bytes to `received`
    /// as it lands (a checksum computed there reads bytes still in the CPU cache, not a
    /// 4 MiB buffer back from memory); returns the bytes read.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer,
                          received: (UnsafeRawBufferPointer) -> Void) async throws(HTTPError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let got = try await read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if got == 0 { break }
            received(UnsafeRawBufferPointer(rebasing: buffer[filled..<(filled + got)]))
            filled += got
        }
        return filled
    }

    /// Reads and drops the rest of the body, up to `bytesMax`; returns whether it ended.
    public func discard(bytesMax: Int) async throws(HTTPError) -> Bool {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
        defer { scratch.deallocate() }
        var dropped = 0
        while !isComplete && dropped <= bytesMax {
            let got = try await read(into: scratch)
            if got == 0 { break }
            dropped += got
        }
        return isComplete
    }

    private func readData(into buffer: UnsafeMutableRawBufferPointer, upTo limit: Int, endIsError: Bool) async throws(HTTPError) -> Int {
        let wanted = min(buffer.count, limit)
        let buffered = stream.buffered
        if !buffered.isEmpty {
            let count = min(wanted, buffered.count)
            buffer.baseAddress!.copyMemory(from: buffered.baseAddress!, byteCount: count)
            stream.consume(count)
            return count
        }
        let got: Int
        let timeout = try stream.bodyReceiveTimeout()
        do {
            got = try await stream.connection.receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted]), timeout: timeout)
        } catch {
            throw .from(error, "waiting for the body")
        }
        if got == 0 && endIsError {
            throw .connectionClosed("after \(bytesRead) body bytes, before the body's end")
        }
        return got
    }

    private func fillStream() async throws(HTTPError) -> Int {
        let timeout = try stream.bodyReceiveTimeout()
        do {
            return try await stream.fill(timeout: timeout)
        } catch {
            throw .from(error, "waiting for the body")
        }
    }
}
