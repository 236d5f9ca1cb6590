/// Why a data node refused a request to anything but `/health` (and `/metrics`): unsigned
/// or mis-signed (401: the sender lacks the secret, or got something wrong), or signed right
/// but not to be served (403: too far from the node's clock, or a request already served).
public enum RequestAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No `Authorization` header.
    case missing
    /// An `Authorization` header of another scheme, or one that does not parse.
    case malformed
    /// A header that the signature covers (or `Authorization` itself) sent more than once:
    /// which value was signed, and which would be used, cannot be told apart.
    case duplicateHeader(String)
    /// Signed with a secret this node does not have (its key id), beside the ones it has.
    case unknownKey(String, known: [String])
    /// The signature is not the HMAC of this request under the secret it names.
    case badSignature(keyID: String)
    /// The request's time is further from this node's clock than the window allows.
    case stale(time: Int64, now: Int64, windowSeconds: Int)
    /// This request (its nonce, at its time) was served before.
    case replayed
    /// Signed at a time whose nonces this node no longer holds (it had to forget them under
    /// a flood of requests), so it cannot tell a replay from a new one.
    case forgotten(time: Int64)

    /// 401 for what the sender could not sign right, 403 for a good signature refused.
    public var status: Int {
        switch self {
        case .missing, .malformed, .duplicateHeader, .unknownKey, .badSignature: return 401
        case .stale, .replayed, .forgotten: return 403
        }
    }

    /// A short label for the metric of refusals (a closed set).
    public var reason: String {
        switch self {
        case .missing: return "missing"
        case .malformed: return "malformed"
        case .duplicateHeader: return "duplicate_header"
        case .unknownKey: return "unknown_key"
        case .badSignature: return "bad_signature"
        case .stale: return "stale"
        case .replayed: return "replayed"
        case .forgotten: return "forgotten"
        }
    }

    public var description: String {
        switch self {
        case .missing:
            return "unsigned request: only /health (and /metrics) are open; api nodes sign with the cluster secret (--cluster-secret-file)"
        case .malformed:
            return "the Authorization header is not \(RequestSignature.scheme) Key=<8 hex>, Time=<unix seconds>, Nonce=<32 hex>, Signature=<64 hex>"
        case .duplicateHeader(let name):
            return "\(name) is sent more than once"
        case .unknownKey(let keyID, let known):
            return "signed with the cluster secret \(keyID), which this node does not have (it has \(known.joined(separator: ", ")))"
        case .badSignature(let keyID):
            return "the signature does not match the request under the cluster secret \(keyID)"
        case .stale(let time, let now, let window):
            return "signed at \(time), \(abs(now - time)) s from this node's clock (\(now)); at most \(window) s are allowed: check the clocks (NTP)"
        case .replayed:
            return "this signed request was served before (a replay)"
        case .forgotten(let time):
            return "signed at \(time), older than the requests this node still remembers under load: sign it again"
        }
    }
}
