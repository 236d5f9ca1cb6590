import FlareAuth
import FlareCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The cluster secret and admin token of a benchmark's own cluster, written to files of mode
/// 0600, and how to sign a request to a data node or send the token to the api with curl.
public struct BenchCredentials: Sendable {
    public let secretFile: String
    public let adminTokenFile: String
    public let adminToken: String
    /// Signs as the cluster's api signs.
    public let signer: RequestSigner

    /// Writes a fresh secret and token under `directory`.
    public init(directory: String) throws {
        secretFile = "\(directory)/cluster-secret"
        adminTokenFile = "\(directory)/admin-token"
        let secret = Self.randomHex(bytes: 32)
        adminToken = Self.randomHex(bytes: 24)
        try Self.writePrivate(secret + "\n", to: secretFile)
        try Self.writePrivate(adminToken + "\n", to: adminTokenFile)
        signer = RequestSigner(keyring: Reloadable(try ClusterKeyring(files: [(secretFile, secret)])))
    }

    /// `Authorization: Bearer <admin token>`, for curl's `-H`.
    public var adminHeader: String { "Authorization: Bearer \(adminToken)" }

    /// curl's `-H` arguments signing a bodiless GET of `url` (a data node's listing).
    public func signedGET(_ url: String) -> [String] {
        let target = url.range(of: "://").flatMap { scheme in url[scheme.upperBound...].firstIndex(of: "/").map { String(url[$0...]) } } ?? "/"
        let value = signer.authorization(method: "GET", target: target, header: { _ in nil },
                                         time: wallClockNanoseconds() / 1_000_000_000)
        return ["-H", "Authorization: \(value)"]
    }

    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    static func writePrivate(_ text: String, to path: String) throws {
        unlink(path)
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw BenchError("cannot write \(path)")
        }
    }
}
