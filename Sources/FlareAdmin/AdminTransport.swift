/// One answer of the api: its status and whole body.
public struct AdminAnswer: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]

    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }
}

/// Sends one request to the api and returns its answer, whatever the status. The HTTP one
/// is ``HTTPAdminTransport``; tests answer from fixtures, so everything above it is tested
/// without sockets.
public protocol AdminTransport: Sendable {
    /// - Parameters:
    ///   - method: `GET` or `POST` (the admin endpoints take no request body).
    ///   - target: path and query, already percent-encoded.
    /// - Throws: ``AdminError/unreachable(api:reason:)`` or ``AdminError/timedOut(api:seconds:)``
    ///   when no answer came; never for an error status.
    func send(_ method: String, _ target: String) async throws(AdminError) -> AdminAnswer
}
