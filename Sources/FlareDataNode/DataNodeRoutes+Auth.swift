import FlareAuth
import FlareCore
import FlareHTTP

/// Who may use a data node: api nodes that sign with the cluster secret. Checked on the
/// head alone, before any route runs and before a byte of the body is read.
extension DataNodeRoutes {
    /// Routes anyone may use: `/health`, which api nodes probe to learn a node's id (and load
    /// balancers to see it up), and `/metrics` unless `--metrics-auth`.
    func isOpen(_ path: Substring) -> Bool {
        path == "/health" || (path == "/metrics" && !config.metricsNeedAuth)
    }

    /// Why `request` is refused, or `nil` when it may go on: signed right, or to an open
    /// route, or this node runs without a secret.
    func authRefusal(_ request: HTTPServerRequest) -> RequestAuthError? {
        guard let verifier = config.requestVerifier, !isOpen(request.path) else { return nil }
        do {
            _ = try verifier.verify(method: request.method, target: request.head.target, headers: { request.headers.values($0) },
                                    now: wallClockNanoseconds() / 1_000_000_000)
            return nil
        } catch {
            return error
        }
    }

    /// Answers a refused request (401 with the scheme to use, or 403), counts and logs it, and
    /// closes the connection: the body of an unauthenticated upload is never read.
    func refuse(_ refusal: RequestAuthError, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        metrics.counter("flare_datanode_auth_refused_total", ["reason": "\(refusal.reason)"]).increment()
        logger.warning("refused \(request.method) \(request.head.target) (request \(request.requestID)): \(refusal.status) \(refusal.description)")
        response.closeAfterResponse()
        let headers: HTTPHeaders = refusal.status == 401 ? ["WWW-Authenticate": RequestSignature.scheme] : [:]
        try await response.respondError(refusal.status, refusal.description, headers: headers)
    }

    /// What destroys or stores data may name the node it is meant for in `X-Flare-Node-Id`
    /// (api nodes send it with every request, and sign it): another node refuses it rather
    /// than act on a request that reached it only because it took over an address, or that
    /// was copied off the wire to be replayed at another node.
    func wrongNode(_ request: HTTPServerRequest) -> String? {
        guard let expected = request.headers["X-Flare-Node-Id"], expected != "\(nodeID)" else { return nil }
        return "this is data node \(nodeID), not \(expected)"
    }
}
