import FlareIO

/// A request as a handler sees it: the parsed head and a body to read into its own memory.
public final class HTTPServerRequest: @unchecked Sendable {
    public let head: HTTPRequestHead
    public let body: HTTPBodyReader
    /// A short unique id, also sent back as `X-Request-Id` and used in logs.
    public let requestID: String
    /// The loop this request runs on; its data-node connections should live there too.
    public let loop: EventLoop

    init(head: HTTPRequestHead, body: HTTPBodyReader, requestID: String, loop: EventLoop) {
        self.head = head
        self.body = body
        self.requestID = requestID
        self.loop = loop
    }

    public var method: String { head.method }
    public var path: Substring { head.path }
    public var headers: HTTPHeaders { head.headers }
}

/// Handles one request; runs on the loop that accepted the connection. Throwing before the
/// head is sent answers with the error's status; throwing after it closes the connection.
public typealias HTTPHandler = @Sendable (HTTPServerRequest, HTTPResponseWriter) async throws -> Void

/// One finished exchange, for access logs and metrics.
public struct HTTPExchangeRecord: Sendable {
    public var requestID: String
    public var method: String
    public var target: String
    public var status: Int
    public var bytesIn: Int
    public var bytesOut: Int
    /// When the request began: its head's first byte (not when a kept-alive connection
    /// began waiting for it).
    public var started: ContinuousClock.Instant
    public var duration: Duration
    /// Set when the exchange failed in the codec or the connection, not in the handler.
    public var error: String?
    /// The trace it ran in, when the handler said (``HTTPResponseWriter/traceID``).
    public var traceID: String?
    /// The limit that refused the connection or request, when one did (`*_refused_total{reason}`).
    public var refusal: ClientLimiter.Refusal?

    public init(requestID: String, method: String, target: String, status: Int, bytesIn: Int, bytesOut: Int,
                started: ContinuousClock.Instant, duration: Duration, error: String?, traceID: String? = nil) {
        self.requestID = requestID
        self.method = method
        self.target = target
        self.status = status
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.started = started
        self.duration = duration
        self.error = error
        self.traceID = traceID
    }
}
