import FlareIO

/// Writes one response: a head, then body bytes sent straight from the caller's memory.
///
/// With a known length the body is sent as is; without one it is sent chunked. For `HEAD`
/// requests the head is sent and body bytes are dropped.
public final class HTTPResponseWriter: @unchecked Sendable {
    private enum State {
        case idle
        case streaming(remaining: Int?)
        case finished
    }

    private let stream: HTTPStream
    private let isHead: Bool
    private let requestID: String
    private var state = State.idle
    private let timeout: Duration
    /// Whether the connection may serve another request after this one.
    public internal(set) var keepAlive: Bool
    /// The status sent, once the head is out.
    public private(set) var status: Int?
    /// Body bytes sent.
    public private(set) var bytesSent = 0
    /// The trace the exchange ran in (32 hex digits), set by the handler's server span: the
    /// access log line carries it, so one request is found on every node it touched.
    public var traceID: String?

    /// Set while the request body was announced with `Expect: 100-continue` and not asked
    /// for: answering now means the client will not send it, so the connection must close.
    var bodyWithheld: () -> Bool = { false }

    init(stream: HTTPStream, isHead: Bool, keepAlive: Bool, requestID: String) {
        self.stream = stream
        self.isHead = isHead
        self.keepAlive = keepAlive
        self.requestID = requestID
        self.timeout = .seconds(stream.limits.bodyTimeoutSeconds)
    }

    /// Whether the head was sent.
    public var headSent: Bool {
        if case .idle = state { return false }
        return true
    }

    /// Closes the connection once this response is sent, without reading what is left of the
    /// request body: for a request refused before its body was wanted (an unauthenticated
    /// upload), whose sender should neither keep the connection nor have its body read.
    public func closeAfterResponse() { keepAlive = false }

    /// Whether the response is complete.
    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    /// Sends the status line and headers. `contentLength: nil` means a chunked body.
    /// `Content-Length`/`Transfer-Encoding`, `Connection`, `Date` and `X-Request-Id` are set here.
    public func writeHead(status: Int, headers: HTTPHeaders = HTTPHeaders(), contentLength: Int?) async throws(HTTPError) {
        precondition(!headSent, "response head sent twice")
        if bodyWithheld() { keepAlive = false }
        var text = "HTTP/1.1 \(status) \(HTTPStatus.reason(status))\r\n"
        for (name, value) in headers where !Self.managed(name) {
            text += "\(name): \(value)\r\n"
        }
        if let contentLength {
            text += "Content-Length: \(contentLength)\r\n"
        } else if status != 204 && status != 304 {
            text += "Transfer-Encoding: chunked\r\n"
        }
        if !keepAlive { text += "Connection: close\r\n" }
        text += "Date: \(HTTPDate.string())\r\nX-Request-Id: \(requestID)\r\n\r\n"
        self.status = status
        if isHead || status == 204 || status == 304 || contentLength == 0 {
            state = .finished
        } else {
            state = .streaming(remaining: contentLength)
        }
        try await stream.send(text, timeout: timeout)
    }

    /// Sends body bytes directly from `bytes` (no copy).
    public func writeBody(_ bytes: UnsafeRawBufferPointer) async throws(HTTPError) {
        guard !bytes.isEmpty else { return }
        switch state {
        case .idle:
            preconditionFailure("body before head")
        case .finished:
            precondition(isHead, "body after the response was finished")
        case .streaming(let remaining?):
            precondition(bytes.count <= remaining, "body longer than its Content-Length")
            let before = stream.connection.bytesSentTotal
            do {
                try await stream.send(bytes, timeout: timeout)
            } catch {
                // Cut short (a timeout, a reset): what did go out still counts.
                bytesSent += stream.connection.bytesSentTotal - before
                throw error
            }
            bytesSent += bytes.count
            state = remaining == bytes.count ? .finished : .streaming(remaining: remaining - bytes.count)
        case .streaming(nil):
            try await stream.send(String(bytes.count, radix: 16) + "\r\n", timeout: timeout)
            try await stream.send(bytes, timeout: timeout)
            try await stream.send("\r\n", timeout: timeout)
            bytesSent += bytes.count
        }
    }

    /// Sends text as body bytes (listings, small bodies); copied once to memory that stays
    /// put while the kernel reads it.
    public func writeBody(_ text: String) async throws(HTTPError) {
        let utf8 = Array(text.utf8)
        let pinned = UnsafeMutableRawBufferPointer.allocate(byteCount: max(utf8.count, 1), alignment: 16)
        defer { pinned.deallocate() }
        pinned.copyBytes(from: utf8)
        try await writeBody(UnsafeRawBufferPointer(rebasing: pinned[0..<utf8.count]))
    }

    /// Ends the body (the last chunk for chunked bodies).
    /// A body shorter than its declared length cannot be finished: the connection is closed.
    public func finish() async throws(HTTPError) {
        switch state {
        case .idle:
            preconditionFailure("finish before head")
        case .finished:
            return
        case .streaming(nil):
            try await stream.send("0\r\n\r\n", timeout: timeout)
            state = .finished
        case .streaming(.some):
            keepAlive = false
            throw .connectionClosed("response body shorter than its Content-Length")
        }
    }

    /// Sends a whole small response.
    public func respond(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: String = "") async throws(HTTPError) {
        var copy = body
        let length = copy.withUTF8 { $0.count }
        try await writeHead(status: status, headers: headers, contentLength: length)
        if length > 0 && !isHead { try await stream.send(body, timeout: timeout); bytesSent += length }
        state = .finished
    }

    /// Sends Flare's JSON error body `{error, message, requestId}` with `status`.
    public func respondError(_ status: Int, _ message: String, headers: HTTPHeaders = HTTPHeaders()) async throws(HTTPError) {
        var headers = headers
        headers.set("Content-Type", "application/json")
        try await respond(status: status, headers: headers,
                          body: HTTPErrorBody.json(error: HTTPStatus.reason(status), message: message, requestID: requestID))
    }

    private static func managed(_ name: String) -> Bool {
        name.equalsIgnoringASCIICase("Content-Length") || name.equalsIgnoringASCIICase("Transfer-Encoding")
            || name.equalsIgnoringASCIICase("Connection") || name.equalsIgnoringASCIICase("Date")
            || name.equalsIgnoringASCIICase("X-Request-Id")
    }
}
