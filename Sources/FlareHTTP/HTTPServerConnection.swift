import FlareIO

/// Serves the requests of one connection in order (keep-alive), on one loop.
final class HTTPServerConnection: @unchecked Sendable {
    /// Body bytes a handler may leave unread and still keep the connection: the server
    /// reads and drops them. A larger remainder closes the connection instead.
    static let leftoverBodyBytesMax = 64 * 1024
    /// Request bytes drained at most, and for how long, before closing a connection whose
    /// client is still sending a body the handler did not read (a refused upload): closing
    /// with unread bytes makes the kernel answer them with a reset, which can reach the client
    /// before the response and take it away. Half-closed first, so the client sees the end
    /// right after the response (RFC 9112's "lingering close").
    static let lingerBytesMax = 64 << 20
    static let lingerSeconds = 2

    private let stream: HTTPStream
    private let loop: EventLoop
    private let ids: RequestIDs
    private let handler: HTTPHandler
    private let onExchange: (@Sendable (HTTPExchangeRecord) -> Void)?
    private let registry: ConnectionRegistry
    private let secure: HTTPServer.Secure?
    /// The per-client limits and this connection's client address, when the server has them.
    private let client: (gate: ClientGate, address: String)?
    /// Set when ``run()`` has returned.
    private(set) var isFinished = false
    /// The last exchange left a body unread that the client is sending (see ``lingerBytesMax``).
    private var lingers = false

    init(stream: HTTPStream, loop: EventLoop, ids: RequestIDs, handler: @escaping HTTPHandler,
         onExchange: (@Sendable (HTTPExchangeRecord) -> Void)?, registry: ConnectionRegistry, secure: HTTPServer.Secure? = nil,
         client: (gate: ClientGate, address: String)? = nil) {
        self.stream = stream
        self.secure = secure
        self.client = client
        self.loop = loop
        self.ids = ids
        self.handler = handler
        self.onExchange = onExchange
        self.registry = registry
    }

    func run() async {
        let limits = stream.limits
        if let secure, let tcp = stream.connection as? TCPConnection {
            let started = ContinuousClock.now
            do {
                stream.upgrade(to: try await secure(tcp, .seconds(limits.headTimeoutSeconds)))
            } catch {
                // Not HTTP yet: nothing to answer. The access log says why the client got no further.
                onExchange?(HTTPExchangeRecord(requestID: ids.next(), method: "-", target: "-", status: 400, bytesIn: 0, bytesOut: 0,
                                               started: started, duration: .now - started, error: "TLS handshake: \(error)"))
                await tcp.close()
                isFinished = true
                return
            }
        }
        while !registry.stopping {
            let head: HTTPRequestHead
            registry.setIdle(self, true)
            do {
                defer { registry.setIdle(self, false) }
                guard let next = try await stream.readHead(
                    idleTimeout: .seconds(limits.idleTimeoutSeconds), headTimeout: .seconds(limits.headTimeoutSeconds),
                    parse: { HTTPHeadParser.parseRequest($0, limits: limits) }) else { break }
                head = next
            } catch {
                if !registry.stopping { await refuse(error, started: stream.requestStartedAt) }
                break
            }
            guard await serve(head, started: stream.requestStartedAt) else { break }
        }
        if lingers { await linger() }
        await stream.connection.close()
        isFinished = true
    }

    /// Serves one request; returns whether the connection can take another.
    private func serve(_ head: HTTPRequestHead, started: ContinuousClock.Instant) async -> Bool {
        let requestID = ids.next()
        let framing: HTTPBodyFraming
        do {
            framing = try HTTPBodyFraming.forRequest(head)
        } catch {
            await refuse(.malformed(error), started: started)
            return false
        }
        let body = HTTPBodyReader(stream: stream, framing: framing)
        let writer = HTTPResponseWriter(stream: stream, isHead: head.method == "HEAD",
                                        keepAlive: head.keepAlive, requestID: requestID)
        if let expect = head.headers["Expect"] {
            guard expect.equalsIgnoringASCIICase("100-continue") else {
                writer.keepAlive = false
                await Self.answerBeforeClosing(writer, 417, "unsupported Expect: \(expect)")
                record(head, requestID, writer, body, started, error: "unsupported Expect")
                return false
            }
            let timeout = Duration.seconds(stream.limits.bodyTimeoutSeconds)
            if !body.isComplete && head.version == .http11 {
                body.beforeFirstRead = { [stream] () async throws(HTTPError) -> Void in
                    try await stream.send("HTTP/1.1 100 Continue\r\n\r\n", timeout: timeout)
                }
            } else if head.version == .http11 {
                // An empty body (`Content-Length: 0`) leaves nothing to wait for, but the 100 goes
                // out anyway: botocore, when an Expect request is answered with a final status
                // and no 100 first, keeps that answer's parser on the connection and misreads the
                // next response on it (boto/botocore#3010: `aws s3 sync` of an empty file beside
                // a multipart one failed with KeyError 'ETag' here).
                do {
                    try await stream.send("HTTP/1.1 100 Continue\r\n\r\n", timeout: timeout)
                } catch {
                    record(head, requestID, writer, body, started, error: "\(error)")
                    return false
                }
            }
        }
        if let client {
            if let refusal = client.gate.beginRequest(client.address) {
                await Self.answerBeforeClosing(writer, 429, "\(client.address) has \(client.gate.limits.requestsInFlightMax) requests in flight: try again shortly",
                                               headers: ["Retry-After": "1"])
                record(head, requestID, writer, body, started, error: "over the per-client request limit", refusal: refusal)
                lingers = !body.isComplete && body.beforeFirstRead == nil
                return false
            }
        }
        defer { if let client { client.gate.requestEnded(client.address) } }
        writer.bodyWithheld = { [body] in body.beforeFirstRead != nil }
        let request = HTTPServerRequest(head: head, body: body, requestID: requestID, loop: loop)
        var failure: String?
        do {
            try await handler(request, writer)
            if !writer.headSent {
                try await writer.respondError(500, "handler sent no response")
            }
            try await writer.finish()
        } catch {
            failure = "\(error)"
            // A client that went away mid-body cannot be answered; everyone else hears why.
            var peerGone = false
            if case .connectionClosed? = error as? HTTPError { peerGone = true }
            if !writer.headSent && !peerGone {
                await Self.answerBeforeClosing(writer, (error as? HTTPError)?.status ?? 500, "\(error)")
            }
            writer.keepAlive = false
        }
        // An unread remainder of the body must go before the next request can be parsed.
        // A client still waiting for 100 Continue has not sent it, and never will: close.
        if !body.isComplete && writer.keepAlive {
            if body.beforeFirstRead != nil {
                writer.keepAlive = false
            } else {
                do {
                    if !(try await body.discard(bytesMax: Self.leftoverBodyBytesMax)) { writer.keepAlive = false }
                } catch {
                    writer.keepAlive = false
                }
            }
        }
        // A client that did not wait for 100 Continue is sending a body nobody reads: drain it
        // before closing, so that it hears the answer rather than a reset.
        lingers = !body.isComplete && !writer.keepAlive && body.beforeFirstRead == nil
        record(head, requestID, writer, body, started, error: failure)
        return writer.keepAlive && writer.isFinished
    }

    /// Refusals over the limit answered at once; beyond this many at a time a new connection
    /// is closed without a word (a flood must not turn into as many lingering sockets).
    static let overLimitRefusalsMax = 256

    /// Answers a connection the loop has no room for — 503 with `Retry-After` — and closes it.
    static func refuseOverLimit(_ connection: TCPConnection, ids: RequestIDs,
                                onExchange: (@Sendable (HTTPExchangeRecord) -> Void)?, limit: Int) async {
        await refuseAtOnce(connection, ids: ids, onExchange: onExchange, status: 503,
                           message: "this server has \(limit) connections open on this loop, none idle: try again shortly",
                           error: "over the connection limit (\(limit) per loop)", refusal: nil)
    }

    /// Answers a new connection with `status` (and `Retry-After: 1`) and closes it: what the
    /// client already sent is read and dropped first (briefly), so the answer is not lost to a reset.
    static func refuseAtOnce(_ connection: TCPConnection, ids: RequestIDs, onExchange: (@Sendable (HTTPExchangeRecord) -> Void)?,
                             status: Int, message: String, error: String, refusal: ClientLimiter.Refusal?) async {
        let started = ContinuousClock.now
        let body = "{\"error\":\"\(HTTPStatus.reason(status))\",\"message\":\(HTTPErrorBody.quote(message))}\n"
        let requestID = ids.next()
        let head = "HTTP/1.1 \(status) \(HTTPStatus.reason(status))\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Retry-After: 1\r\nConnection: close\r\nX-Request-Id: \(requestID)\r\n\r\n"
        do {
            try await connection.send(head + body, timeout: .seconds(1))
            await connection.shutdownWrite()
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 1)
            defer { scratch.deallocate() }
            var drained = 0
            while drained < 256 * 1024 {
                let got = try await connection.receive(into: scratch, timeout: .milliseconds(200))
                guard got > 0 else { break }
                drained += got
            }
        } catch {
            // Gone or silent: closing is all there is left to do.
        }
        await connection.close()
        var record = HTTPExchangeRecord(requestID: requestID, method: "-", target: "-", status: status, bytesIn: 0,
                                        bytesOut: body.utf8.count, started: started, duration: .now - started, error: error)
        record.refusal = refusal
        onExchange?(record)
    }

    /// Half-closes, then reads and drops what the client still sends, until it closes its side,
    /// ``lingerBytesMax`` bytes or ``lingerSeconds`` have passed.
    private func linger() async {
        await stream.connection.shutdownWrite()
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { scratch.deallocate() }
        let deadline = ContinuousClock.now + .seconds(Self.lingerSeconds)
        var drained = 0
        while drained < Self.lingerBytesMax {
            let left = deadline - .now
            guard left > .zero else { return }
            do {
                let got = try await stream.connection.receive(into: scratch, timeout: left)
                guard got > 0 else { return }
                drained += got
            } catch {
                return  // reset, timed out, cancelled by a stopping server: close either way
            }
        }
    }

    /// Answers a head the codec refused (or a slow client) and gives up the connection.
    private func refuse(_ error: HTTPError, started: ContinuousClock.Instant) async {
        let requestID = ids.next()
        switch error {
        case .malformed, .timedOut:
            let writer = HTTPResponseWriter(stream: stream, isHead: false, keepAlive: false, requestID: requestID)
            await Self.answerBeforeClosing(writer, error.status, "\(error)")
            onExchange?(HTTPExchangeRecord(requestID: requestID, method: "-", target: "-", status: error.status,
                                           bytesIn: 0, bytesOut: writer.bytesSent, started: started, duration: .now - started,
                                           error: "\(error)"))
        case .connectionClosed, .io:
            break
        }
    }

    private func record(_ head: HTTPRequestHead, _ requestID: String, _ writer: HTTPResponseWriter,
                        _ body: HTTPBodyReader, _ started: ContinuousClock.Instant, error: String?, refusal: ClientLimiter.Refusal? = nil) {
        var record = HTTPExchangeRecord(requestID: requestID, method: head.method, target: head.target,
                                        status: writer.status ?? 0, bytesIn: body.bytesRead, bytesOut: writer.bytesSent,
                                        started: started, duration: .now - started, error: error, traceID: writer.traceID)
        record.refusal = refusal
        onExchange?(record)
    }

    /// Sends an error response on a connection that is closed next. If the peer is already
    /// gone the send fails, and there is no one left to tell: the connection closes either way.
    private static func answerBeforeClosing(_ writer: HTTPResponseWriter, _ status: Int, _ message: String,
                                            headers: HTTPHeaders = [:]) async {
        writer.keepAlive = false
        do {
            try await writer.respondError(status, message, headers: headers)
        } catch {
            return
        }
    }

}


/// `{"error": ..., "message": ..., "requestId": ...}` bodies.
public enum HTTPErrorBody {
    public static func json(error: String, message: String, requestID: String) -> String {
        "{\"error\":\(quote(error)),\"message\":\(quote(message)),\"requestId\":\(quote(requestID))}\n"
    }

    /// A JSON string literal.
    public static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
