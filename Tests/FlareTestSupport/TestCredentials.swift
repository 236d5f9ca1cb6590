import FlareAuth
import FlareCore
import Foundation
import Glibc

/// A cluster secret and an admin token made for one test, in files of mode 0600 as `make run`
/// writes them, and what a test needs to speak to nodes started with them: curl arguments
/// signed as an api node signs (``signedCurlArguments(_:_:headers:upload:time:nonce:)``) and the
/// admin token's header.
public struct TestCredentials: Sendable {
    /// `--cluster-secret-file` for data nodes and api nodes.
    public let secretFile: String
    /// `--admin-token-file` for the api, `--token-file` for flare.
    public let adminTokenFile: String
    public let adminToken: String
    /// Signs with the secret in ``secretFile``.
    public let signer: RequestSigner

    /// Writes a fresh secret and token under `directory` (named `<prefix>cluster-secret` and
    /// `<prefix>admin-token`).
    public init(directory: String, prefix: String = "") throws {
        secretFile = "\(directory)/\(prefix)cluster-secret"
        adminTokenFile = "\(directory)/\(prefix)admin-token"
        let secret = Self.randomHex(bytes: 32)
        adminToken = Self.randomHex(bytes: 24)
        try Self.writePrivate("# cluster secret for a test\n\(secret)\n", to: secretFile)
        try Self.writePrivate("\(adminToken)\n", to: adminTokenFile)
        signer = RequestSigner(keyring: Reloadable(try ClusterKeyring(files: [(secretFile, "\(secret)\n")])))
    }

    /// A signer for the secrets in `text` (one a line; the first signs), for a test that
    /// signs with another secret than the nodes have.
    public static func signer(secrets text: String) throws -> RequestSigner {
        RequestSigner(keyring: Reloadable(try ClusterKeyring(files: [("test", text)])))
    }

    /// `bytes` random bytes as lowercase hex.
    public static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Writes `text` to `path`, readable by its owner only (replacing what was there).
    public static func writePrivate(_ text: String, to path: String) throws {
        unlink(path)
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw TestSupportFailure(description: "cannot write \(path)")
        }
    }

    /// curl `-H` arguments for `Authorization: Bearer <admin token>`.
    public var adminHeader: [String] { ["-H", "Authorization: Bearer \(adminToken)"] }
}

/// curl arguments for one request to a data node signed by `signer` as an api node signs:
/// the method (`-I` for HEAD, `-T file` for a PUT of `upload`, `-X` otherwise), each of
/// `headers`, and the `Authorization` over them, the target of `url` and the length of
/// `upload`. `signer` nil: the same request unsigned. Headers the signature covers (`Range`,
/// `X-Flare-Checksum`, `X-Flare-Node-Id`) must come through `headers`, not extra arguments.
public func signedCurlArguments(_ method: String, _ url: String, signer: RequestSigner?, headers: [(String, String)] = [],
                                upload: String? = nil, time: Int64? = nil, nonce: RequestNonce = .random()) -> [String] {
    var arguments: [String]
    var length: String?
    switch (method, upload) {
    case ("HEAD", _): arguments = ["-I"]
    case ("GET", nil): arguments = []
    case ("PUT", let file?): arguments = ["-T", file]
    case (_, let file?): arguments = ["-X", method, "--data-binary", "@\(file)"]
    case (_, nil): arguments = ["-X", method]
    }
    // curl sends no Content-Length with a chunked body.
    let chunked = headers.contains { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }
    if let upload, !chunked { length = "\(fileSize(upload))" }
    for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
    if let signer {
        let target = requestTarget(of: url)
        let value = signer.authorization(method: method, target: target, header: { name in
            if name == "content-length" { return length }
            return headers.first { $0.0.lowercased() == name }?.1
        }, time: time ?? wallClockNanoseconds() / 1_000_000_000, nonce: nonce)
        arguments += ["-H", "Authorization: \(value)"]
    }
    return arguments + [url]
}

/// One signed request to a data node with curl (see ``signedCurlArguments(_:_:signer:headers:upload:time:nonce:)``).
public func signedCurl(_ method: String, _ url: String, signer: RequestSigner?, headers: [(String, String)] = [],
                       upload: String? = nil, extra: [String] = [], scratch: String = NSTemporaryDirectory(),
                       bodyTo: String? = nil) async throws -> CurlResult {
    try await curl(extra + signedCurlArguments(method, url, signer: signer, headers: headers, upload: upload),
                   scratch: scratch, bodyTo: bodyTo)
}

/// The path and query of `http://host:port/path?query`, as curl sends them.
public func requestTarget(of url: String) -> String {
    guard let scheme = url.range(of: "://") else { return url }
    let rest = url[scheme.upperBound...]
    guard let slash = rest.firstIndex(of: "/") else { return "/" }
    return String(rest[slash...])
}

/// Splits curl arguments into the headers they send (`-H "Name: value"`) and the rest, so that
/// a signing helper can sign the headers it is given in the shape a test writes them.
public func splitCurlHeaders(_ arguments: [String]) -> (headers: [(String, String)], rest: [String]) {
    var headers: [(String, String)] = []
    var rest: [String] = []
    var index = 0
    while index < arguments.count {
        if arguments[index] == "-H", index + 1 < arguments.count, let colon = arguments[index + 1].firstIndex(of: ":") {
            let field = arguments[index + 1]
            headers.append((String(field[..<colon]), field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            index += 2
        } else {
            rest.append(arguments[index])
            index += 1
        }
    }
    return (headers, rest)
}
