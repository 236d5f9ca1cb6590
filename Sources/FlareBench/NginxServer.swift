import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// nginx on loopback, as the reference a user would run instead: WebDAV PUT into a
/// directory (no fsync) and static GET, from a generated config.
public final class NginxServer: @unchecked Sendable {
    public let port: UInt16
    /// The HTTPS port, when started with certificates (same files, same WebDAV).
    public let tlsPort: UInt16?
    public let root: String
    private let process: Process

    /// Starts nginx with its files under `directory`; `nil` when nginx is not installed.
    public static func startIfInstalled(directory: String, tls: BenchCertificates? = nil) throws -> NginxServer? {
        guard let nginx = which("nginx") else { return nil }
        return try NginxServer(binary: nginx, directory: directory, tls: tls)
    }

    private init(binary: String, directory: String, tls: BenchCertificates?) throws {
        port = try freePort()
        let tlsPort = try tls.map { _ in try freePort() }
        self.tlsPort = tlsPort
        root = try makeTemporaryDirectory(in: directory, prefix: "nginx-")
        try FileManager.default.createDirectory(atPath: "\(root)/www/bench", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(root)/body", withIntermediateDirectories: true)
        let user = getuid() == 0 ? "user root;" : ""
        let config = """
        \(user)
        worker_processes 2;
        daemon off;
        pid \(root)/nginx.pid;
        error_log \(root)/error.log warn;
        events { worker_connections 4096; }
        http {
            access_log off;
            sendfile on;
            tcp_nopush on;
            keepalive_requests 100000;
            client_max_body_size 0;
            client_body_temp_path \(root)/body;
            client_body_buffer_size 1m;
            server {
                listen 127.0.0.1:\(port);
                \(tls.map { "listen 127.0.0.1:\(tlsPort!) ssl; ssl_certificate \($0.certificateFile); ssl_certificate_key \($0.keyFile); ssl_protocols TLSv1.2 TLSv1.3;" } ?? "")
                root \(root)/www;
                location / {
                    dav_methods PUT DELETE;
                    create_full_put_path on;
                    dav_access user:rw group:r all:r;
                }
            }
        }
        """
        try config.write(toFile: "\(root)/nginx.conf", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-c", "\(root)/nginx.conf", "-p", root, "-e", "\(root)/error.log"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ChildProcess.start(process)
        for _ in 0..<100 {
            if httpStatus(port: port, path: "/") != 0 { return }
            if !process.isRunning { break }
            usleep(50_000)
        }
        stop()
        let log = (try? String(contentsOfFile: "\(root)/error.log", encoding: .utf8)) ?? ""
        throw BenchError("nginx did not start: \(log.suffix(400))")
    }

    /// The file nginx stores for `urlPath` (e.g. `/bench/bench/curl-1GiB-r1`).
    public func storedFile(urlPath: String) -> String {
        "\(root)/www\(urlPath)"
    }

    public func stop() {
        ChildProcess.stop(process, signal: SIGQUIT)
        try? FileManager.default.removeItem(atPath: root)
    }
}
