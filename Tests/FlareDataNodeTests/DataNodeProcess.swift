import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Engines every data node test runs on. io_uring is left out, with the reason printed, where
/// the kernel or a seccomp profile refuses it.
let engines: [IOEngineKind] = {
    if let reason = IOEngineKind.auto.resolved().fallbackReason {
        print("note: io_uring data node tests skipped: \(reason)")
        return [.epoll]
    }
    return [.uring, .epoll]
}()

/// The package root: this file is `<root>/Tests/FlareDataNodeTests/DataNodeProcess.swift`.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The `datanode` executable could not be found.
struct MissingDataNodeBinary: Error, CustomStringConvertible {
    let searched: [String]
    var description: String {
        "no datanode executable at \(searched.joined(separator: ", ")): run `swift build` (or `swift build --build-tests`) "
            + "first, or point FLARE_BIN_DIR at the directory holding the built datanode"
    }
}

/// The built `datanode`: `$FLARE_BIN_DIR/datanode` when that is set; otherwise the one next to
/// the running test binary (same build), then `<root>/.build/debug/datanode`.
func dataNodeExecutable() throws -> String {
    if let directory = ProcessInfo.processInfo.environment["FLARE_BIN_DIR"], !directory.isEmpty {
        let path = "\(directory)/datanode"
        guard FileManager.default.isExecutableFile(atPath: path) else { throw MissingDataNodeBinary(searched: [path]) }
        return path
    }
    var candidates: [String] = []
    if let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        candidates.append(URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("datanode").path)
    }
    candidates.append("\(packageRoot)/.build/debug/datanode")
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw MissingDataNodeBinary(searched: candidates)
    }
    return found
}

/// A directory of its own for one test, under /tmp: `data/` for the node, `files/` for
/// payloads and downloads, `node.log` for the node's output.
final class TestDirectory: Sendable {
    let path: String

    init(_ label: String) throws {
        var template = Array("/tmp/flare-dn-\(label)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw IOError(errno: Glibc.errno, operation: "mkdtemp")
        }
        path = String(cString: made)
        try FileManager.default.createDirectory(atPath: "\(path)/data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(path)/files", withIntermediateDirectories: true)
    }

    var data: String { "\(path)/data" }
    var files: String { "\(path)/files" }

    func remove() {
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            print("note: could not remove \(path): \(error)")
        }
    }
}

/// Why a node did not come up.
struct DataNodeStartFailure: Error, CustomStringConvertible {
    let description: String
}

/// A `datanode` process started by a test, on a port the kernel picked.
///
/// The node is started with `--port 0` and the bound port is read from its "listening on" log
/// line. A port probed with a throw-away socket is not safe here: with more than one loop the
/// node binds with SO_REUSEPORT, so two nodes given the same port both start and the kernel
/// splits connections between them instead of the second one failing.
final class DataNode: @unchecked Sendable {
    let engine: IOEngineKind
    let dataDirectory: String
    let logPath: String
    let arguments: [String]
    private(set) var port: UInt16 = 0
    private var process: Process?
    /// Where this start's output begins in the log (the log is appended to on restart).
    private var logOffset = 0

    /// Generous: with `--parallel`, a dozen nodes start at once on two cores.
    static let startSecondsMax = 30.0

    init(engine: IOEngineKind, directory: TestDirectory, arguments: [String] = []) {
        self.engine = engine
        dataDirectory = directory.data
        logPath = "\(directory.path)/node.log"
        self.arguments = arguments
    }

    deinit { kill() }

    var base: String { "http://127.0.0.1:\(port)" }
    func url(_ id: ChunkID) -> String { "\(base)/chunk/\(id)" }
    var pid: Int32? { process?.processIdentifier }

    /// Starts the node and waits (at most ``startSecondsMax``) until `GET /health` answers 200.
    func start() async throws {
        precondition(process == nil, "node already running")
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        logOffset = Int(try log.seekToEnd())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try dataNodeExecutable())
        // A small pool: every node touches all of its buffers at start, and a dozen nodes
        // starting together with the default 256 MiB each would spend seconds just on that.
        let pool = arguments.contains("--buffer-pool") ? [] : ["--buffer-pool", "64MiB"]
        process.arguments = ["--io", engine.rawValue, "--port", "0", "--data-dir", dataDirectory, "--threads", "2"] + pool + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try log.close()
        self.process = process
        let deadline = Date().addingTimeInterval(Self.startSecondsMax)
        while Date() < deadline {
            guard process.isRunning else {
                throw DataNodeStartFailure(description: "datanode exited with \(process.terminationStatus):\n\(currentLog())")
            }
            if port == 0, let bound = listeningPort() { port = bound }
            if port != 0, (try? await curl(["--max-time", "2", "\(base)/health"]))?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill()
        throw DataNodeStartFailure(description: "datanode did not answer /health within \(Self.startSecondsMax) s:\n\(currentLog())")
    }

    /// Sends `signal` (SIGKILL: a crash) by pid and waits until the node has exited, polling
    /// so that no thread blocks: a process in the middle of disk I/O can take seconds to die,
    /// and every test of the run shares the same two concurrency threads.
    func stop(signal: Int32 = SIGKILL) async {
        guard let process else { return }
        if process.isRunning { Glibc.kill(process.processIdentifier, signal) }
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline {
            do { try await Task.sleep(for: .milliseconds(10)) } catch { break }
        }
        self.process = nil
        port = 0
    }

    /// SIGKILL by pid without waiting, for `defer` and `deinit` (see ``stop(signal:)``).
    func kill() {
        guard let process else { return }
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        self.process = nil
        port = 0
    }

    /// The log written since the last start.
    func currentLog() -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "" }
        return String(decoding: data.dropFirst(logOffset), as: UTF8.self)
    }

    private func listeningPort() -> UInt16? {
        let log = currentLog()
        guard let line = log.split(separator: "\n").first(where: { $0.contains("datanode listening on ") }),
              let after = line.range(of: "listening on ")?.upperBound else { return nil }
        let address = line[after...].prefix { $0 != " " }
        guard let colon = address.lastIndex(of: ":") else { return nil }
        return UInt16(address[address.index(after: colon)...])
    }
}

/// Runs `body` with a fresh node of `engine` on a directory of its own; the node is killed and
/// the directory removed afterwards, also when the body fails (its log is printed then).
func withDataNode<T>(_ engine: IOEngineKind, _ label: String, arguments: [String] = [],
                     _ body: (DataNode, TestDirectory) async throws -> T) async throws -> T {
    let directory = try TestDirectory("\(label)-\(engine)")
    defer { directory.remove() }
    let node = DataNode(engine: engine, directory: directory, arguments: arguments)
    defer { node.kill() }
    do {
        try await node.start()
        return try await body(node, directory)
    } catch {
        print("datanode log (\(label), \(engine)):\n\(node.currentLog().suffix(4000))")
        throw error
    }
}
