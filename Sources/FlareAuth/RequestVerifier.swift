import Crypto
import Synchronization

/// Checks the signature of a request to a data node (``RequestSignature``) against the
/// node's keyring, its clock and the nonces it has seen. Shared by the node's loops: a
/// replay may arrive on any of them.
public final class RequestVerifier: Sendable {
    /// How far a request's time may be from the node's clock, either way, by default.
    public static let clockSkewSecondsDefault = 300
    /// The most nonces remembered by default: at 32 bytes or so each, about 16 MiB when
    /// full, which takes some 1700 requests a second for the whole default window.
    public static let noncesMaxDefault = 1 << 19

    public let keyring: Reloadable<ClusterKeyring>
    public let clockSkewSecondsMax: Int
    private let nonces: Mutex<NonceCache>

    public init(keyring: Reloadable<ClusterKeyring>, clockSkewSecondsMax: Int = clockSkewSecondsDefault,
                noncesMax: Int = noncesMaxDefault) {
        self.keyring = keyring
        self.clockSkewSecondsMax = clockSkewSecondsMax
        nonces = Mutex(NonceCache(countMax: noncesMax, windowSeconds: clockSkewSecondsMax))
    }

    /// Nonces remembered now (a gauge).
    public var noncesHeld: Int { nonces.withLock { $0.count } }

    /// Accepts a request — and records its nonce — or says why not. Everything it looks at
    /// is in the head: nothing of the body is read before this has passed.
    /// - Parameters:
    ///   - target: the request target as sent (path and query).
    ///   - headers: every value of a header, in order (none when absent).
    ///   - now: seconds since the Unix epoch by this node's clock.
    /// - Returns: the key id of the secret the request was signed with.
    public func verify(method: String, target: String, headers: (String) -> [String], now: Int64) throws(RequestAuthError) -> String {
        let authorization = headers("Authorization")
        guard let value = authorization.first else { throw .missing }
        guard authorization.count == 1 else { throw .duplicateHeader("Authorization") }
        guard let signature = RequestSignature(headerValue: value) else { throw .malformed }
        var signed: [String: String] = [:]
        for name in RequestSignature.signedHeaders {
            let values = headers(name)
            guard values.count <= 1 else { throw .duplicateHeader(name) }
            signed[name] = values.first
        }
        let keys = keyring.current
        guard let secret = keys.secret(withID: signature.keyID) else { throw .unknownKey(signature.keyID, known: keys.keyIDs) }
        let text = RequestSignature.stringToSign(keyID: signature.keyID, time: signature.time, nonce: signature.nonce,
                                                 method: method, target: target, header: { signed[$0] })
        // Constant time: how much of a forged signature was right does not show in the time taken.
        guard HMAC<SHA256>.isValidAuthenticationCode(signature.mac, authenticating: Array(text.utf8), using: secret.key) else {
            throw .badSignature(keyID: signature.keyID)
        }
        guard abs(signature.time - now) <= Int64(clockSkewSecondsMax) else {
            throw .stale(time: signature.time, now: now, windowSeconds: clockSkewSecondsMax)
        }
        switch nonces.withLock({ $0.admit(signature.nonce, time: signature.time, now: now) }) {
        case .fresh: return signature.keyID
        case .replayed: throw .replayed
        case .forgotten: throw .forgotten(time: signature.time)
        }
    }
}
