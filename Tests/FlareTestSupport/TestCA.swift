import Foundation

/// A certificate authority made for one test with the openssl command (Debian's `openssl`),
/// a server certificate it signed for 127.0.0.1 and localhost, and a second CA that signed
/// nothing here, to check that a client refuses a certificate it cannot verify.
public struct TestCA: Sendable {
    public let caFile: String
    public let certificateFile: String
    public let keyFile: String
    public let otherCAFile: String

    /// Makes them under `directory` (P-256 keys: quick to make, and what TLS 1.3 prefers).
    public static func make(in directory: String) async throws -> TestCA {
        func openssl(_ arguments: [String]) async throws {
            let run = try await runProgram("/usr/bin/env", ["openssl"] + arguments, in: directory)
            guard run.status == 0 else { throw TestCAError(description: "openssl \(arguments.joined(separator: " ")): \(run.stderr)") }
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let path = { (name: String) in "\(directory)/\(name)" }
        for ca in ["ca", "other-ca"] {
            try await openssl(["req", "-x509"] + ec + ["-keyout", path("\(ca).key"), "-out", path("\(ca).pem"), "-days", "2",
                                                     "-subj", "/CN=Flare test \(ca)"])
        }
        try await openssl(["req"] + ec + ["-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=localhost"])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
        try await openssl(["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                           "-CAcreateserial", "-out", path("server.pem"), "-days", "2", "-extfile", path("server.ext")])
        return TestCA(caFile: path("ca.pem"), certificateFile: path("server.pem"), keyFile: path("server.key"), otherCAFile: path("other-ca.pem"))
    }
}

public struct TestCAError: Error, CustomStringConvertible {
    public let description: String
}
