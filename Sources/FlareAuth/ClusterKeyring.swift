import Crypto
import FlareCore

/// One cluster secret: the HMAC-SHA256 key api nodes sign their requests to data nodes with,
/// and a short id naming it in every signature, so that a data node knows which of its
/// secrets to check against (and says which one it lacks) while secrets are being rotated.
public struct ClusterSecret: Sendable {
    /// The fewest bytes a secret may have: 256 bits, as many as the HMAC's output.
    public static let bytesMin = 32

    /// 8 lowercase hex digits: the start of HMAC-SHA256(secret, "flare-cluster-key-id").
    /// Safe to log and to send: it says nothing of the secret that helps find it.
    public let keyID: String
    /// The secret's bytes (swift-crypto's `SymmetricKey` is not `Sendable`, and the loops share
    /// the keyring): a key is made of them for each use.
    private let bytes: [UInt8]

    /// The HMAC key.
    var key: SymmetricKey { SymmetricKey(data: bytes) }

    /// A secret from its text (a line of a secret file, already trimmed).
    /// - Throws: the reason when it is shorter than ``bytesMin`` or holds white space (likely a
    ///   comment or a second secret on the same line).
    public init(_ text: Substring) throws(CredentialFileError) {
        let bytes = Array(text.utf8)
        guard bytes.count >= Self.bytesMin else {
            throw CredentialFileError(source: "", line: nil, reason: "a cluster secret needs at least \(Self.bytesMin) characters, this one has \(bytes.count) (make one with: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n')")
        }
        guard !bytes.contains(where: { $0 == 0x20 || $0 == 0x09 }) else {
            throw CredentialFileError(source: "", line: nil, reason: "a cluster secret is one word: this line holds spaces")
        }
        self.bytes = bytes
        let fingerprint = HMAC<SHA256>.authenticationCode(for: Array("flare-cluster-key-id".utf8), using: SymmetricKey(data: bytes))
        keyID = Hex.encode(Array(fingerprint).prefix(4))
    }
}

/// The cluster secrets a node holds, in order: the first signs, every one verifies. Holding
/// two is how a secret is rotated without downtime (README, "Rotating the cluster secret").
public struct ClusterKeyring: Sendable {
    /// At least one secret, with distinct key ids.
    public let secrets: [ClusterSecret]

    /// The secret requests are signed with.
    public var signing: ClusterSecret { secrets[0] }

    /// The key ids, in order (for the log).
    public var keyIDs: [String] { secrets.map(\.keyID) }

    /// The secret whose id is `keyID`, if this keyring has it.
    public func secret(withID keyID: String) -> ClusterSecret? { secrets.first { $0.keyID == keyID } }

    /// Reads every file in order — one secret per line, blank lines and `#` comments skipped —
    /// and keeps each secret once (a secret in two of the files is one secret).
    /// - Parameter files: `(source, text)`: the path as the flag named it, for messages, and
    ///   its contents.
    /// - Throws: naming the file and line of a secret that is too short, or when there is no
    ///   secret at all, or two different secrets share a key id (1 in 4 billion: make another).
    public init(files: [(source: String, text: String)]) throws(CredentialFileError) {
        var secrets: [ClusterSecret] = []
        var seen: Set<Substring> = []
        for (source, text) in files {
            for (number, line) in credentialLines(text) {
                let secret: ClusterSecret
                do {
                    secret = try ClusterSecret(line)
                } catch {
                    throw CredentialFileError(source: source, line: number, reason: error.reason)
                }
                // The same secret in the old file and in the new one during a rotation.
                guard seen.insert(line).inserted else { continue }
                if secrets.contains(where: { $0.keyID == secret.keyID }) {
                    throw CredentialFileError(source: source, line: number, reason: "two different secrets share the key id \(secret.keyID): replace one of them")
                }
                secrets.append(secret)
            }
        }
        guard !secrets.isEmpty else {
            throw CredentialFileError(source: files.map(\.source).joined(separator: ", "), line: nil, reason: "no cluster secret in it")
        }
        self.secrets = secrets
    }
}
