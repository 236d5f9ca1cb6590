import Crypto

/// The tokens an api accepts in `Authorization: Bearer <token>` — for the admin API
/// (`--admin-token-file`) or the native object API (`--native-auth`) — read from a file of
/// one token per line. More than one is how a token is replaced without downtime: add the
/// new one, move the clients, remove the old one (each step a SIGHUP).
///
/// Only SHA-256 digests of the tokens are kept, and a presented token is compared digest to
/// digest in constant time (swift-crypto's digest equality), against every token: neither
/// how much of a token was right nor which one matched shows in the time taken.
public struct BearerTokens: Sendable {
    /// The fewest characters a token may have.
    public static let charactersMin = 16

    /// Each token's SHA-256, as bytes (swift-crypto's digest type is not `Sendable`).
    private let digests: [[UInt8]]

    /// How many tokens there are.
    public var count: Int { digests.count }

    /// Reads one token per line (blank lines and `#` comments skipped).
    /// - Parameter source: the file as the flag named it, for messages.
    /// - Throws: naming the line of a token shorter than ``charactersMin`` or holding spaces,
    ///   or when the file holds no token (every request would be refused).
    public init(parsing text: String, source: String) throws(CredentialFileError) {
        var digests: [[UInt8]] = []
        for (number, line) in credentialLines(text) {
            guard line.utf8.count >= Self.charactersMin else {
                throw CredentialFileError(source: source, line: number, reason: "a token needs at least \(Self.charactersMin) characters, this one has \(line.utf8.count)")
            }
            guard !line.utf8.contains(where: { $0 == 0x20 || $0 == 0x09 }) else {
                throw CredentialFileError(source: source, line: number, reason: "a token is one word: this line holds spaces")
            }
            digests.append(Array(SHA256.hash(data: Array(line.utf8))))
        }
        guard !digests.isEmpty else { throw CredentialFileError(source: source, line: nil, reason: "no token in it") }
        self.digests = digests
    }

    /// What a request's `Authorization` header amounts to.
    public enum Check: Sendable, Equatable {
        case accepted
        /// No `Authorization: Bearer` header.
        case missing
        /// A bearer token that is none of these.
        case wrong
    }

    /// Checks the value of an `Authorization` header (`nil`: there was none).
    public func check(authorization: String?) -> Check {
        guard let authorization, let token = Self.bearerToken(authorization) else { return .missing }
        let presented = SHA256.hash(data: Array(token.utf8))
        var matched = false
        // Digest == bytes is swift-crypto's constant-time compare; every token is compared.
        for digest in digests where presented == digest { matched = true }
        return matched ? .accepted : .wrong
    }

    /// The token of `Bearer <token>` (the scheme in any case, as RFC 6750 allows).
    static func bearerToken(_ value: String) -> Substring? {
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingWhitespace()
        return token.isEmpty ? nil : token
    }
}
