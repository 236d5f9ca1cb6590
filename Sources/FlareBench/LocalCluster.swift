import FlareAuth
import FlareCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts Flare's binaries (api + data nodes) on free loopback ports with temporary data
/// directories, and stops them (by PID) and removes the data afterwards. The nodes run with a
/// cluster secret and the api with an admin token, as a deployed cluster does, so the signed
/// path is the one measured.
public final class LocalCluster: @unchecked Sendable {
    public struct Options: Sendable {
        public var binDirectory: String
        public var dataNodes = 3
        public var engine = "auto"
        public var chunkSize = "4MiB"
        public var window = 8
        public var bufferPool = "512MiB"
        /// Copies of every chunk the api keeps.
        public var replicas = 1
        /// Keep the data directories and logs at stop (and log the api at `info`), to look
        /// into a failed run.
        public var keepFiles = false
        /// How many of the data nodes (the first) the api gets in `--datanodes`; the others run
        /// for a bench to add to the layout. `nil`: all.
        public var listedDataNodes: Int?
        /// Serve S3 too (`--s3-port`, with a key generated into ``LocalCluster/s3CredentialsFile``).
        public var s3 = false
        /// More api flags (e.g. `--datanode-timeout 2`).
        public var apiArguments: [String] = []
        /// HTTPS on the api (`--tls-cert`, `--tls-key`), its health checked against `ca`.
        public var tls: BenchCertificates?
        /// A directory on the disk to measure (the data directories go under it).
        public var workDirectory: String

        public init(binDirectory: String, workDirectory: String) {
            self.binDirectory = binDirectory
            self.workDirectory = workDirectory
        }
    }

    public let options: Options
    public let root: String
    public private(set) var apiPort: UInt16 = 0
    public private(set) var dataNodePorts: [UInt16] = []
    /// The S3 listener's port (0 unless `options.s3`).
    public private(set) var s3Port: UInt16 = 0
    public private(set) var apiProcess: Process?
    /// The data nodes, in `dataNodePorts` order (to signal one, as a failure would).
    public private(set) var dataNodeProcesses: [Process] = []
    private var processes: [Process] = []

    /// The cluster secret and admin token, in files under ``root``.
    public let credentials: BenchCredentials

    public init(options: Options) throws {
        self.options = options
        root = try makeTemporaryDirectory(in: options.workDirectory, prefix: "flare-bench-")
        credentials = try BenchCredentials(directory: root)
    }

    /// The API node's base URL.
    public var apiURL: String { "\(options.tls == nil ? "http" : "https")://127.0.0.1:\(apiPort)" }
    /// The S3 endpoint (with `options.s3`).
    public var s3URL: String { "http://127.0.0.1:\(s3Port)" }
    /// The api's `--s3-credentials` file: one generated `ACCESS_KEY SECRET_KEY` line.
    public var s3CredentialsFile: String { "\(root)/s3-credentials" }

    /// CPU accounting for the api and the data nodes (once started).
    public var cpuMeter: CPUMeter? {
        apiProcess.map { CPUMeter(apiPID: $0.processIdentifier, dataNodePIDs: dataNodeProcesses.map(\.processIdentifier)) }
    }

    public func start() throws {
        for index in 0..<options.dataNodes {
            let log = "\(root)/datanode-\(index).log"
            let (port, process) = try launchOnFreePort(log: log) { port in
                let process = try launch("datanode", ["--port", "\(port)", "--data-dir", "\(root)/datanode-\(index)", "--io", options.engine,
                                                      "--cluster-secret-file", credentials.secretFile], log: log)
                try waitForHealth(port: port, process: process)
                return process
            }
            dataNodePorts.append(port)
            dataNodeProcesses.append(process)
        }
        let nodes = dataNodePorts.prefix(options.listedDataNodes ?? dataNodePorts.count).map { "127.0.0.1:\($0)" }.joined(separator: ",")
        if options.s3 { try Self.writeCredentials(to: s3CredentialsFile) }
        let log = "\(root)/api.log"
        (apiPort, apiProcess) = try launchOnFreePort(log: log) { port in
            var s3Arguments: [String] = []
            if options.s3 {
                s3Port = try freePort()
                s3Arguments = ["--s3-port", "\(s3Port)", "--s3-credentials", s3CredentialsFile]
            }
            let api = try launch("api", ["--port", "\(port)", "--datanodes", nodes, "--metadata", "\(root)/meta.sqlite",
                                         "--chunk-size", options.chunkSize, "--window", "\(options.window)",
                                         "--buffer-pool", options.bufferPool, "--replicas", "\(options.replicas)",
                                         "--io", options.engine, "--log-level", options.keepFiles ? "info" : "warning",
                                         "--cluster-secret-file", credentials.secretFile, "--admin-token-file", credentials.adminTokenFile]
                                         + s3Arguments + options.apiArguments
                                         + (options.tls.map { ["--tls-cert", $0.certificateFile, "--tls-key", $0.keyFile] } ?? []),
                                 log: log)
            try waitForHealth(port: port, process: api, tls: options.tls)
            // The S3 listener answers an unsigned request (403) once it is up.
            if options.s3 { try waitForAnswer(port: s3Port, process: api) }
            return api
        }
    }

    /// Starts a node on a port probed free, again on another when the port was taken in the
    /// meantime (another program bound it between the probe and the node's bind: seen when
    /// flare-bench's smoke test ran beside the whole test suite), at most three times.
    private func launchOnFreePort(log: String, _ start: (UInt16) throws -> Process) throws -> (UInt16, Process) {
        for attempt in 1...3 {
            let port = try freePort()
            do {
                return (port, try start(port))
            } catch {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                guard attempt < 3, text.contains("EADDRINUSE") else { throw error }
                processes.removeAll { !$0.isRunning }
            }
        }
        preconditionFailure("the loop returns or throws")
    }

    /// Stores `count` objects `/object/<prefix><index>` of `bytes` each, all the same random
    /// bytes (one file in the work directory, removed after); returns their CRC32C, for
    /// checked GETs.
    public func storeObjects(_ count: Int, bytes: Int, prefix: String) throws -> UInt32 {
        let progress = ProgressReporter()
        let file = "\(options.workDirectory)/flare-bench-objects-\(getpid())"
        defer { unlink(file) }
        let crc = try CurlWorkload.makeFile(at: file, bytes: bytes)
        progress.begin("storing \(count) × \(ByteSize.format(bytes)) with \(options.replicas) copies of every chunk")
        for index in 0..<count {
            let put = try CurlWorkload.put(file: file, bytes: bytes, url: "\(apiURL)/object/\(prefix)\(index)", name: "put")
            guard put.verified else { throw BenchError("PUT \(prefix)\(index) failed") }
        }
        progress.finish("stored \(ByteSize.format(count * bytes))")
        return crc
    }

    /// Stops every process and removes the data (unless `keepFiles`).
    public func stop() {
        let running = !processes.isEmpty
        for process in processes { ChildProcess.stop(process) }
        processes.removeAll()
        if !options.keepFiles {
            try? FileManager.default.removeItem(atPath: root)
        } else if running {
            print("the local cluster's data and logs are kept in \(root)")
        }
    }

    deinit { stop() }

    private func launch(_ binary: String, _ arguments: [String], log: String) throws -> Process {
        let path = "\(options.binDirectory)/\(binary)"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw BenchError("\(path) not found: build first (swift build -c release)")
        }
        let process = try ChildProcess.start(path, arguments, log: log)
        processes.append(process)
        return process
    }

    /// A fresh key pair, as `make run` makes one: `FLAREBENCH<hex> <secret>`, readable by this user only.
    static func writeCredentials(to path: String) throws {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<10).map { _ in String(UInt8.random(in: 0...15, using: &generator), radix: 16, uppercase: true) }.joined()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        let secret = String((0..<40).map { _ in alphabet.randomElement(using: &generator)! })
        guard FileManager.default.createFile(atPath: path, contents: Data("# ACCESS_KEY SECRET_KEY\nFLAREBENCH\(hex) \(secret)\n".utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw BenchError("cannot write \(path)")
        }
    }

    private func waitForAnswer(port: UInt16, process: Process) throws {
        for _ in 0..<200 {
            if !process.isRunning { throw BenchError("the api exited; logs in \(root)") }
            if httpStatus(port: port, path: "/") != 0 { return }
            usleep(50_000)
        }
        throw BenchError("the S3 listener on :\(port) did not answer within 10 s; logs in \(root)")
    }

    private func waitForHealth(port: UInt16, process: Process, tls: BenchCertificates? = nil) throws {
        for _ in 0..<200 {
            if !process.isRunning { throw BenchError("\(process.executableURL!.lastPathComponent) on :\(port) exited; logs in \(root)") }
            if let tls {
                let probe = try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", "--cacert", tls.caFile,
                                                             "https://127.0.0.1:\(port)/health"], allowFailure: true)
                if String(decoding: probe.stdout, as: UTF8.self) == "200" { return }
            } else if httpStatus(port: port, path: "/health") == 200 { return }
            usleep(50_000)
        }
        throw BenchError("nothing answered on :\(port) within 10 s; logs in \(root)")
    }
}

/// A failure of the benchmark itself (not of a workload).
public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A port that was free a moment ago (bound to 0, read, closed).
public func freePort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            guard bind(fd, pointer, length) == 0 else { return -1 }
            return getsockname(fd, pointer, &length)
        }
    }
    guard bound == 0 else { throw BenchError("cannot find a free port: errno \(errno)") }
    return UInt16(bigEndian: address.sin_port)
}

/// The status of a tiny blocking GET, or 0 when nothing answered.
func httpStatus(port: UInt16, path: String) -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return 0 }
    let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    var buffer = [UInt8](repeating: 0, count: 64)
    let count = recv(fd, &buffer, 64, 0)
    guard count >= 12 else { return 0 }
    return Int(String(decoding: buffer[9..<12], as: UTF8.self)) ?? 0
}

/// Creates a fresh directory under `parent`.
public func makeTemporaryDirectory(in parent: String, prefix: String) throws -> String {
    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    var template = Array("\(parent)/\(prefix)XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw BenchError("cannot create a directory under \(parent)")
    }
    let directory = String(cString: made)
    ChildProcess.removeOnInterrupt(directory)
    return directory
}
