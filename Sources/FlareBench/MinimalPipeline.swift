import FlareIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The minimal pipeline of Flare's shape, as a yardstick: `flare-pipeline` (C, liburing)
/// with three stores and a relay on loopback. curl → relay over HTTP, 4 MiB chunks to the
/// stores over a 32-byte binary header, 8 in flight, O_DIRECT + fdatasync per chunk; no
/// HTTP between relay and store, no checksums, no metadata store, names in the relay's
/// memory (see Sources/flare-pipeline/main.c and bench-results/README.md).
///
/// Started from the bin directory with `--port 0` (each process prints the port it bound),
/// data under the work directory; stopped by PID, its files removed.
public final class MinimalPipeline: @unchecked Sendable {
    public static let binaryName = "flare-pipeline"
    public let root: String
    public private(set) var relayPort: UInt16 = 0
    public private(set) var storePorts: [UInt16] = []
    private var processes: [Process] = []

    /// The relay's base URL.
    public var url: String { "http://127.0.0.1:\(relayPort)" }

    /// Why the pipeline cannot run here (its binary is missing, io_uring is refused), or nil.
    public static func unavailableReason(binDirectory: String) -> String? {
        let path = "\(binDirectory)/\(binaryName)"
        if !FileManager.default.isExecutableFile(atPath: path) {
            return "\(path) not found (swift build -c release builds it)"
        }
        if let reason = IOEngineKind.auto.resolved().fallbackReason { return "io_uring is unavailable here (\(reason))" }
        return nil
    }

    /// Starts `stores` stores, then the relay over them; throws (having stopped what it
    /// started) when one does not come up.
    public init(binDirectory: String, workDirectory: String, stores: Int = 3) throws {
        root = try makeTemporaryDirectory(in: workDirectory, prefix: "flare-pipeline-")
        do {
            for index in 0..<stores {
                let process = try launch(binDirectory, ["store", "--port", "0", "--dir", "\(root)/store-\(index)"],
                                         log: "\(root)/store-\(index).log")
                storePorts.append(try waitForPort(process, log: "\(root)/store-\(index).log"))
            }
            let stores = storePorts.map { "127.0.0.1:\($0)" }.joined(separator: ",")
            let relay = try launch(binDirectory, ["relay", "--port", "0", "--stores", stores], log: "\(root)/relay.log")
            relayPort = try waitForPort(relay, log: "\(root)/relay.log")
        } catch {
            stop()
            throw error
        }
    }

    /// Stops every process (SIGTERM, by PID) and removes the data.
    public func stop() {
        for process in processes { ChildProcess.stop(process) }
        processes.removeAll()
        try? FileManager.default.removeItem(atPath: root)
    }

    deinit { stop() }

    private func launch(_ binDirectory: String, _ arguments: [String], log: String) throws -> Process {
        let process = try ChildProcess.start("\(binDirectory)/\(Self.binaryName)", arguments, log: log)
        processes.append(process)
        return process
    }

    /// The port from the process's `listening on 127.0.0.1:<port>` line (within 10 s).
    private func waitForPort(_ process: Process, log: String) throws -> UInt16 {
        for _ in 0..<500 {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let port = Self.listeningPort(in: text) { return port }
            if !process.isRunning { throw BenchError("flare-pipeline \(process.arguments?.first ?? "") exited at start: \(text.suffix(400))") }
            usleep(20_000)
        }
        throw BenchError("flare-pipeline did not start listening within 10 s; its log: \(log)")
    }

    /// `… listening on 127.0.0.1:40655, …` → 40655.
    static func listeningPort(in log: String) -> UInt16? {
        guard let after = log.range(of: "listening on 127.0.0.1:")?.upperBound else { return nil }
        return UInt16(log[after...].prefix { $0.isNumber })
    }
}
