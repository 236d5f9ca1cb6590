import Crypto
import FlareCore

/// Signed, short-lived URLs with which a browser downloads an object by a plain link — straight
/// to disk, however large — where the admin API otherwise needs an `Authorization` header, which
/// a link cannot carry (the console used to read the whole object into the page's memory).
///
/// The api signs with a key of its own, drawn at start (a restart voids every ticket), over the
/// path as sent and the expiry: a ticket opens that one path for GET and HEAD until it expires,
/// nothing else. Only an admin-token holder gets one (`?download-url`, behind the token).
public struct DownloadTickets: Sendable {
    /// How long a ticket is good for, in seconds.
    public static let lifetimeSeconds = 300

    private let key: [UInt8]

    /// Tickets under `key` (tests fix it; ``random()`` is what the api uses).
    public init(key: [UInt8]) {
        precondition(key.count >= 32, "a ticket key needs at least 32 bytes")
        self.key = key
    }

    /// Tickets under a key drawn from the system's generator.
    public static func random() -> DownloadTickets {
        var generator = SystemRandomNumberGenerator()
        return DownloadTickets(key: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// `expires=<unix seconds>&signature=<64 hex>`: the query that opens `path` until
    /// `now + lifetimeSeconds`.
    public func query(path: Substring, now: Int) -> String {
        let expires = now + Self.lifetimeSeconds
        return "expires=\(expires)&signature=\(Hex.encode(mac(path: path, expires: String(expires))))"
    }

    public enum Check: Sendable, Equatable {
        case accepted
        case expired
        /// Not made by this api for this path and expiry (or not hex at all).
        case wrong
    }

    /// Checks a ticket's two query values for `path` at `now` (unix seconds).
    public func check(path: Substring, expires: Substring, signature: Substring, now: Int) -> Check {
        guard let presented = Hex.decodeLowercase(signature, count: SHA256.byteCount),
              let expiry = Int(expires), String(expiry) == expires else { return .wrong }
        // Constant time: swift-crypto compares the whole code whatever the first wrong byte.
        guard HMAC<SHA256>.isValidAuthenticationCode(presented, authenticating: message(path: path, expires: expires),
                                                     using: SymmetricKey(data: key)) else { return .wrong }
        return now <= expiry ? .accepted : .expired
    }

    private func message(path: Substring, expires: some StringProtocol) -> [UInt8] {
        Array("GET\n\(path)\n\(expires)".utf8)
    }

    private func mac(path: Substring, expires: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message(path: path, expires: expires), using: SymmetricKey(data: key)))
    }
}
