import FlareAuth
import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

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

/// At most this many data-node test cases (each with its own node, some with two) run at
/// once; see ``Slots``.
let dataNodeSlots = Slots(4)

/// A `datanode` process started by a test, on a port the kernel picked (``ServerProcess``
/// reads it from the "listening on" log line), with the data node's API beside it. It runs
/// with a cluster secret of its own, as a deployed node does, and the helpers sign their
/// requests with it: the signed path is the one tested.
final class DataNode: @unchecked Sendable {
    let engine: IOEngineKind
    let dataDirectory: String
    let arguments: [String]
    /// The node's `--cluster-secret-file` and a signer for it; `nil`: the node runs without one.
    let credentials: TestCredentials?
    private let server: ServerProcess

    /// Generous: with `--parallel`, a dozen nodes start at once on two cores.
    static let startSecondsMax = 30.0

    /// - Parameter secured: start with a cluster secret (written in `directory`).
    init(engine: IOEngineKind, directory: TestDirectory, arguments: [String] = [], secured: Bool = true) throws {
        try skipIfUnavailable(engine)
        self.engine = engine
        dataDirectory = directory.data
        self.arguments = arguments
        credentials = secured ? try TestCredentials(directory: directory.path) : nil
        server = ServerProcess(name: "datanode", executable: try builtExecutable("datanode"),
                               logPath: "\(directory.path)/node.log", startSecondsMax: Self.startSecondsMax)
    }

    /// Signs as the node's api would; `nil` for a node without a secret.
    var signer: RequestSigner? { credentials?.signer }

    deinit { kill() }

    var port: UInt16 { server.port }
    var base: String { server.base }
    func url(_ id: ChunkID) -> String { "\(base)/chunk/\(id)" }

    /// Starts the node and waits (at most ``startSecondsMax``) until `GET /health` answers 200.
    func start() async throws {
        guard !server.isRunning else { throw StartFailure(description: "datanode already running (pid \(server.child?.pid ?? 0))") }
        // A small pool: every node touches all of its buffers at start, and a dozen nodes
        // starting together with the default 256 MiB each would spend seconds just on that.
        let pool = arguments.contains("--buffer-pool") ? [] : ["--buffer-pool", "64MiB"]
        let secret = credentials.map { ["--cluster-secret-file", $0.secretFile] } ?? []
        try await server.start(["--io", engine.rawValue, "--data-dir", dataDirectory, "--threads", "2"] + pool + secret + arguments,
                               scratch: NSTemporaryDirectory())
    }

    /// Sends `signal` (SIGKILL: a crash) and waits, polling, until the node has exited: a
    /// process in the middle of disk I/O can take seconds to die.
    func stop(signal: Int32 = SIGKILL) async {
        guard server.isRunning else { return }
        if await server.stop(signal, withinSeconds: 60) == nil {
            Issue.record("datanode still running 60 s after signal \(signal)")
        }
    }

    /// Sends `signal` without waiting (SIGHUP: read the secret files again).
    func signal(_ signal: Int32) { server.signal(signal) }

    /// SIGKILL without waiting, for `defer` and `deinit`.
    func kill() { server.killNow() }

    /// The log written since the last start.
    func currentLog() -> String { server.currentLog() }
}

/// Runs `body` with a fresh node of `engine` on a directory of its own; the node is killed and
/// the directory removed afterwards, also when the body fails (its log is printed then).
func withDataNode<T>(_ engine: IOEngineKind, _ label: String, arguments: [String] = [], secured: Bool = true,
                     _ body: (DataNode, TestDirectory) async throws -> T) async throws -> T {
    let directory = try TestDirectory("\(label)-\(engine)")
    defer { directory.remove() }
    let node = try DataNode(engine: engine, directory: directory, arguments: arguments, secured: secured)
    defer { node.kill() }
    do {
        try await node.start()
        return try await body(node, directory)
    } catch {
        print("datanode log (\(label), \(engine)):\n\(node.currentLog().suffix(4000))")
        throw error
    }
}
