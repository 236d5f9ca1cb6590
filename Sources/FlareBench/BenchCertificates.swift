import Foundation

/// A CA and a server certificate for 127.0.0.1 made with the openssl command, for HTTPS runs:
/// the same certificate for Flare's api and nginx, and the CA curl checks both against.
public struct BenchCertificates: Sendable {
    public let caFile: String
    public let certificateFile: String
    public let keyFile: String

    /// Makes them under `directory` (P-256, as a modern deployment would have).
    public static func make(in directory: String) throws -> BenchCertificates {
        func openssl(_ arguments: [String]) throws {
            _ = try runCommand("/usr/bin/openssl", arguments)
        }
        let path = { (name: String) in "\(directory)/\(name)" }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + ec + ["-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=flare-bench CA"])
        try openssl(["req"] + ec + ["-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=127.0.0.1"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
                     "-out", path("server.pem"), "-days", "2", "-extfile", path("server.ext")])
        return BenchCertificates(caFile: path("ca.pem"), certificateFile: path("server.pem"), keyFile: path("server.key"))
    }
}
