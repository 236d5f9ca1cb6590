import FlareIO

/// A request body: bytes in memory the caller keeps valid, or a producer that sends
/// exactly `length` bytes through the function it is given (sent straight from its memory).
public enum HTTPRequestBody {
    case bytes(UnsafeRawBufferPointer)
    case stream(length: Int, (_ send: (UnsafeRawBufferPointer) async throws -> Void) async throws -> Void)

    var count: Int {
        switch self {
        case .bytes(let bytes): return bytes.count
        case .stream(let length, _): return length
        }
    }
}

/// A response being received: its head, and a body to read into the caller's memory.
public final class HTTPClientResponse: @unchecked Sendable {
    public let head: HTTPResponseHead
    public let body: HTTPBodyReader

    init(head: HTTPResponseHead, body: HTTPBodyReader) {
        self.head = head
        self.body = body
    }

    public var status: Int { head.status }
    public var headers: HTTPHeaders { head.headers }
}

/// An HTTP/1.1 client for one event loop, with a bounded pool of keep-alive connections
/// per peer. The API node keeps one per loop to talk to data nodes, so a request and all
/// its data-node traffic stay on the same thread.
public final class HTTPClient: @unchecked Sendable {
    /// Connections per peer (in use + idle); further requests wait for one.
    public let connectionsPerPeerMax: Int
    /// Idle connections kept per peer.
    public let idlePerPeerMax: Int
    public let loop: EventLoop
    public let limits: HTTPLimits
    /// How long connecting may take.
    public var connectTimeout: Duration = .seconds(2)

    /// Called with each request's method, target and headers — `Content-Length` included,
    /// `Host` not — just before its head is sent, once per attempt (a retry on a fresh
    /// connection is a new attempt): the place to sign requests, so that every attempt carries
    /// a signature of its own (a nonce used once). Set it before the first request.
    public var beforeSend: (@Sendable (_ method: String, _ target: String, _ headers: inout HTTPHeaders) -> Void)?

    /// An idle connection older than this is closed instead of reused: servers close idle
    /// connections themselves (Flare's after `--idle-timeout`, 60 s by default), and a
    /// request sent on one the peer is closing fails.
    public var idleTimeout: Duration = .seconds(20)

    private final class Peer {
        var idle: IdleConnections<HTTPStream, ContinuousClock>
        var open = 0
        var waiters: [UnsafeContinuation<Void, Never>] = []

        init(idleMax: Int) { idle = IdleConnections(clock: ContinuousClock(), countMax: idleMax) }
    }

    private var peers: [SocketAddress: Peer] = [:]

    public init(loop: EventLoop, connectionsPerPeerMax: Int = 64, idlePerPeerMax: Int = 32, limits: HTTPLimits = HTTPLimits()) {
        self.loop = loop
        self.connectionsPerPeerMax = connectionsPerPeerMax
        self.idlePerPeerMax = idlePerPeerMax
        self.limits = limits
    }

    /// Sends a request and hands the response to `handle`; the connection goes back to the
    /// pool if `handle` read the whole body and the peer allows keep-alive, else it is closed.
    ///
    /// - Parameters:
    ///   - body: request body bytes, sent directly from this memory; must stay valid until
    ///     this call returns.
    ///   - timeout: bounds every wait — connecting (also at most ``connectTimeout``), each
    ///     send, the response's first byte, the rest of its head, each read of its body. A
    ///     timeout is final: it is thrown at once, never retried.
    /// A request whose reused connection proves stale — the peer closed or reset it before
    /// answering anything — is retried once on a fresh connection (the peer may have closed
    /// an idle connection); that proof comes fast, so one exchange takes at most a retry's
    /// worth more than connect + send + one `timeout` for the head.
    public func execute<T>(method: String, target: String, headers: HTTPHeaders = HTTPHeaders(),
                           body: UnsafeRawBufferPointer? = nil, to peer: SocketAddress,
                           timeout: Duration = .seconds(30),
                           _ handle: (HTTPClientResponse) async throws -> T) async throws -> T {
        try await execute(method: method, target: target, headers: headers, body: body.map { .bytes($0) },
                          to: peer, timeout: timeout, handle)
    }

    /// Like the byte-buffer variant, with a body that may be streamed.
    /// A streamed body is never retried: it cannot be produced twice.
    public func execute<T>(method: String, target: String, headers: HTTPHeaders = HTTPHeaders(),
                           body: HTTPRequestBody?, to peer: SocketAddress,
                           timeout: Duration = .seconds(30),
                           _ handle: (HTTPClientResponse) async throws -> T) async throws -> T {
        loop.assertInLoop()
        var retryable = true
        if case .stream = body { retryable = false }
        var attempt = 0
        while true {
            attempt += 1
            // The retry after a stale connection uses a new one: the other idle connections
            // to that peer are likely just as dead (it restarted, or closed them all).
            let (stream, reused) = try await checkOut(peer, fresh: attempt > 1, timeout: timeout)
            let response: HTTPClientResponse
            var answered = false
            do {
                response = try await exchange(stream, method: method, target: target, headers: headers, body: body,
                                              peer: peer, timeout: timeout, answered: &answered)
            } catch {
                await discard(stream, peer)
                if reused && attempt == 1 && !answered && Self.provesStale(error) {
                    await closeIdle(peer)
                    if retryable { continue }
                }
                throw error
            }
            do {
                let result = try await handle(response)
                if response.body.isComplete && !response.headers.contains("Connection", token: "close")
                    && response.head.version == .http11 {
                    checkIn(stream, peer)
                } else {
                    await discard(stream, peer)
                }
                return result
            } catch {
                await discard(stream, peer)
                throw error
            }
        }
    }

    /// Closes every idle connection.
    public func closeIdle() async {
        for address in peers.keys { await closeIdle(address) }
    }

    /// Closes the idle connections to one peer.
    private func closeIdle(_ address: SocketAddress) async {
        guard let peer = peers[address] else { return }
        for stream in peer.idle.removeAll() {
            peer.open -= 1
            wakeWaiter(peer)
            await stream.connection.close()
        }
    }

    /// Whether a failure before any byte of the response proves the connection was already
    /// closed by the peer: an end of stream, a reset or a broken pipe. A timeout proves
    /// nothing of the kind — the peer may be hung, and a retry would wait for it again.
    private static func provesStale(_ error: Error) -> Bool {
        switch error as? HTTPError {
        case .connectionClosed?: return true
        case .io(let io)?: return io.kind == .connectionReset || io.kind == .brokenPipe
        case .timedOut?, .malformed?, nil: return false
        }
    }

    /// Sends the request and reads the response head; `answered` turns true once a byte of the
    /// response has come (a failure after that is not the stale connection's).
    private func exchange(_ stream: HTTPStream, method: String, target: String, headers: HTTPHeaders,
                          body: HTTPRequestBody?, peer: SocketAddress, timeout: Duration,
                          answered: inout Bool) async throws -> HTTPClientResponse {
        var sent = HTTPHeaders()
        for (name, value) in headers where !name.equalsIgnoringASCIICase("Content-Length") && !name.equalsIgnoringASCIICase("Host") {
            sent.add(name, value)
        }
        if let body {
            sent.add("Content-Length", "\(body.count)")
        } else if method == "PUT" || method == "POST" {
            sent.add("Content-Length", "0")
        }
        beforeSend?(method, target, &sent)
        var text = "\(method) \(target) HTTP/1.1\r\nHost: \(peer)\r\n"
        for (name, value) in sent { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        try await stream.send(text, timeout: timeout)
        switch body {
        case .bytes(let bytes)?:
            if !bytes.isEmpty { try await stream.send(bytes, timeout: timeout) }
        case .stream(let length, let write)?:
            var sent = 0
            try await write { (bytes: UnsafeRawBufferPointer) async throws -> Void in
                precondition(sent + bytes.count <= length, "streamed body longer than its declared length")
                try await stream.send(bytes, timeout: timeout)
                sent += bytes.count
            }
            guard sent == length else { throw HTTPError.connectionClosed("streamed body shorter than its declared length") }
        case nil:
            break
        }
        let limits = self.limits
        let head: HTTPResponseHead
        do {
            head = try await stream.readResponseHead(timeout: timeout, parse: { HTTPHeadParser.parseResponse($0, limits: limits) })
        } catch {
            answered = !stream.awaitsFirstResponseByte
            throw error
        }
        answered = true
        do {
            let framing = try HTTPBodyFraming.forResponse(head, method: method)
            return HTTPClientResponse(head: head, body: HTTPBodyReader(stream: stream, framing: framing))
        } catch {
            throw HTTPError.malformed(error)
        }
    }

    private func checkOut(_ address: SocketAddress, fresh: Bool, timeout: Duration) async throws(HTTPError) -> (HTTPStream, reused: Bool) {
        let peer = peers[address] ?? { let fresh = Peer(idleMax: idlePerPeerMax); peers[address] = fresh; return fresh }()
        while true {
            if !fresh {
                let (reusable, expired) = peer.idle.take(idleTimeout: idleTimeout)
                for stream in expired {
                    peer.open -= 1
                    await stream.connection.close()
                }
                if let reusable { return (reusable, true) }
            }
            if peer.open < connectionsPerPeerMax { break }
            await withUnsafeContinuation { peer.waiters.append($0) }
        }
        peer.open += 1
        do {
            let connection = try await TCPConnection.connect(to: address, on: loop, timeout: min(connectTimeout, timeout))
            return (HTTPStream(connection: connection, limits: limits), false)
        } catch {
            peer.open -= 1
            wakeWaiter(peer)
            throw .from(error, "connecting to \(address)")
        }
    }

    private func checkIn(_ stream: HTTPStream, _ address: SocketAddress) {
        guard let peer = peers[address] else { return }
        if stream.buffered.isEmpty && peer.idle.park(stream) {
            wakeWaiter(peer)
        } else {
            peer.open -= 1
            wakeWaiter(peer)
            loop.spawn { await stream.connection.close() }
        }
    }

    private func discard(_ stream: HTTPStream, _ address: SocketAddress) async {
        await stream.connection.close()
        guard let peer = peers[address] else { return }
        peer.open -= 1
        wakeWaiter(peer)
    }

    private func wakeWaiter(_ peer: Peer) {
        if !peer.waiters.isEmpty { peer.waiters.removeFirst().resume() }
    }
}
