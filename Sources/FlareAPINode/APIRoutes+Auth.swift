import FlareAuth
import FlareCore
import FlareHTTP

/// Who may use the api's native listener: the admin API (`/admin/*`) takes an admin token;
/// the object API (`/object/*`, `/objects`) a native token when `--native-auth` is given.
/// `/health` is open, and `/metrics` unless `--metrics-auth` (then: the admin token).
/// Checked on the head, before any body is read.
extension APIRoutes {
    /// The token files a route may be behind.
    enum TokenGuard: String {
        case admin
        case native
    }

    /// Which tokens a request to `path` needs; `nil`: none.
    func tokenGuard(for path: Substring) -> TokenGuard? {
        if path == "/admin" || path.hasPrefix("/admin/") { return .admin }
        if path == "/metrics" { return config.metricsNeedAuth ? .admin : nil }
        if path.hasPrefix("/object/") || path == "/objects" { return config.nativeTokens == nil ? nil : .native }
        return nil
    }

    /// The `expires` and `signature` of a download link: only a GET or HEAD of an object under
    /// `/admin/buckets/` may carry one.
    func downloadTicket(_ request: HTTPServerRequest) -> (expires: Substring, signature: Substring)? {
        guard request.method == "GET" || request.method == "HEAD", request.path.hasPrefix("/admin/buckets/"),
              request.path.contains("/object/"), let query = request.head.query else { return nil }
        var expires: Substring?, signature: Substring?
        for pair in query.split(separator: "&") {
            if pair.hasPrefix("expires=") { expires = pair.dropFirst("expires=".count) }
            if pair.hasPrefix("signature=") { signature = pair.dropFirst("signature=".count) }
        }
        guard let expires, let signature else { return nil }
        return (expires, signature)
    }

    /// Answers and returns true when `request` may not go on.
    func refusedByToken(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws -> Bool {
        guard let which = tokenGuard(for: request.path) else { return false }
        let tokens = which == .admin ? config.adminTokens : config.nativeTokens
        let status: Int, reason: String, message: String
        if which == .admin, let ticket = downloadTicket(request) {
            switch tickets.check(path: request.path, expires: ticket.expires, signature: ticket.signature, now: Int(wallClockNanoseconds() / 1_000_000_000)) {
            case .accepted: return false
            case .expired: (status, reason, message) = (403, "ticket_expired", "this download link has expired: ask the console for a new one")
            case .wrong: (status, reason, message) = (403, "ticket_wrong", "this download link is not one this api made for this object (or the api restarted since)")
            }
        } else if let tokens {
            switch tokens.current.check(authorization: request.headers["Authorization"]) {
            case .accepted: return false
            case .missing:
                (status, reason) = (401, "missing")
                message = which == .admin
                    ? "the admin API needs Authorization: Bearer <a token of --admin-token-file> (flare: --token-file)"
                    : "this api needs Authorization: Bearer <a token of --native-auth>"
            case .wrong:
                (status, reason) = (401, "wrong")
                message = which == .admin ? "wrong admin token" : "wrong token"
            }
        } else {
            (status, reason) = (403, "off")
            message = "the admin API is off: start the api with --admin-token-file FILE"
        }
        metrics.counter("flare_api_auth_refused_total", ["api": which.rawValue, "reason": reason]).increment()
        logger.warning("refused \(request.method) \(request.head.target) (request \(request.requestID)): \(status) \(message)")
        // An unauthenticated upload's body is not read: the connection closes after the answer.
        response.closeAfterResponse()
        let headers: HTTPHeaders = status == 401 ? ["WWW-Authenticate": "Bearer realm=\"flare \(which.rawValue)\""] : [:]
        try await response.respondError(status, message, headers: headers)
        return true
    }
}
