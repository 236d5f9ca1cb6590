import FlareIO

/// A connection (TCP, or TLS over TCP) with a small read buffer for heads and chunk framing.
///
/// Heads and framing are read into this buffer; body bytes are not: once the head is
/// parsed, the body reader copies only the few body bytes that arrived with the head and
/// receives the rest straight into the caller's memory.
final class HTTPStream: @unchecked Sendable {
    private(set) var connection: any ByteStream
    let limits: HTTPLimits
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    /// How long each receive may wait, and what running out means.
    private(set) var timer: HTTPConnectionTimer<ContinuousClock>

    /// Where the current request's time starts: the first byte of the head that
    /// ``readHead(idleTimeout:headTimeout:parse:)`` is reading or last returned, or when the
    /// wait began if no byte has come yet (a kept-alive connection's silence is not the request's).
    var requestStartedAt: ContinuousClock.Instant { timer.requestStartedAt }

    init(connection: any ByteStream, limits: HTTPLimits) {
        self.connection = connection
        self.limits = limits
        timer = HTTPConnectionTimer(clock: ContinuousClock(), bodyTimeout: .seconds(limits.bodyTimeoutSeconds))
        // Room for the largest head plus a little of what follows it.
        buffer = .allocate(byteCount: limits.headBytesMax + 4096, alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// Goes on over `secured` (TLS on this stream's TCP connection) from here; nothing may be
    /// buffered, since those bytes were the handshake's.
    func upgrade(to secured: any ByteStream) {
        precondition(start == end, "bytes buffered before the TLS handshake")
        connection = secured
    }

    /// Bytes received but not yet consumed.
    var buffered: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[start..<end]) }

    func consume(_ count: Int) {
        precondition(count <= end - start)
        start += count
        if start == end { start = 0; end = 0 }
    }

    /// Receives more bytes into the read buffer; returns 0 at end of stream.
    func fill(timeout: Duration?) async throws(IOError) -> Int {
        if end == buffer.count {
            precondition(start > 0, "read buffer full; callers bound what they buffer")
            let count = end - start
            buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: count)
            start = 0
            end = count
        }
        let got = try await connection.receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]), timeout: timeout)
        end += got
        return got
    }

    /// Reads and parses the next head. Returns `nil` when the peer closes cleanly, or stays
    /// silent past `idleTimeout`, before sending a byte of it.
    /// - Throws: ``HTTPError`` — `.timedOut` when the head is not complete `headTimeout`
    ///   after its first byte, `.malformed`, `.connectionClosed` in the middle of it.
    func readHead<Head>(idleTimeout: Duration?, headTimeout: Duration,
                        parse: (UnsafeRawBufferPointer) -> HTTPHeadParser.Result<Head>) async throws(HTTPError) -> Head? {
        timer.awaitHead(idleTimeout: idleTimeout, headTimeout: headTimeout)
        return try await readAwaitedHead(parse: parse)
    }

    /// Reads and parses the response to a request just sent. The response is owed, so silence
    /// is not idleness: no byte for `timeout` is a timeout, and so is a head not complete
    /// `timeout` after its first byte; the body's waits get `timeout` each too.
    /// - Throws: ``HTTPError`` — `.timedOut`, `.malformed`, `.connectionClosed` (also when the
    ///   peer closes before a byte of the response: ``awaitsFirstResponseByte`` is then still
    ///   true), `.io` (a reset).
    func readResponseHead<Head>(timeout: Duration,
                                parse: (UnsafeRawBufferPointer) -> HTTPHeadParser.Result<Head>) async throws(HTTPError) -> Head {
        timer.awaitResponse(timeout: timeout)
        guard let head = try await readAwaitedHead(parse: parse) else { throw .connectionClosed("before the response") }
        return head
    }

    /// Whether a response is awaited and not a byte of it has come (see ``readResponseHead(timeout:parse:)``).
    var awaitsFirstResponseByte: Bool { timer.awaitsFirstResponseByte }

    /// The head the timer is waiting for; `nil` when the peer closes (or, on a connection that
    /// owes nothing, stays silent or resets) before its first byte.
    private func readAwaitedHead<Head>(parse: (UnsafeRawBufferPointer) -> HTTPHeadParser.Result<Head>) async throws(HTTPError) -> Head? {
        while true {
            if end > start {
                timer.headBytesArrived()
                switch parse(buffered) {
                case .complete(let head, let consumed):
                    consume(consumed)
                    timer.headComplete()
                    return head
                case .failed(let error):
                    throw .malformed(error)
                case .incomplete:
                    break
                }
            }
            let waitingFor = timer.awaitsFirstResponseByte ? "waiting for the response" : "waiting for the head"
            let timeout: Duration?
            switch timer.nextWait() {
            case .receive(let wait): timeout = wait
            case .expired(.idle): return nil
            case .expired: throw .timedOut(waitingFor)
            }
            let got: Int
            do {
                got = try await fill(timeout: timeout)
            } catch {
                // Before a byte of the head, a silent or vanished peer owed nothing.
                if timer.isIdle && (error.kind == .timedOut || error.kind == .connectionReset) { return nil }
                throw .from(error, waitingFor)
            }
            if got == 0 {
                if timer.isIdle || timer.awaitsFirstResponseByte { return nil }
                throw .connectionClosed("in the middle of a head")
            }
        }
    }

    /// How long the next receive of a body may wait.
    /// - Throws: ``HTTPError/timedOut(_:)`` when the time is already up.
    func bodyReceiveTimeout() throws(HTTPError) -> Duration? {
        switch timer.nextWait() {
        case .receive(let timeout): return timeout
        case .expired: throw .timedOut("waiting for the body")
        }
    }

    /// Sends bytes, mapping failures.
    func send(_ bytes: UnsafeRawBufferPointer, timeout: Duration?) async throws(HTTPError) {
        do {
            try await connection.send(bytes, timeout: timeout)
        } catch {
            throw .from(error, "sending")
        }
    }

    /// Sends text (heads, framing, small bodies).
    func send(_ text: String, timeout: Duration?) async throws(HTTPError) {
        do {
            try await connection.send(text, timeout: timeout)
        } catch {
            throw .from(error, "sending")
        }
    }
}
