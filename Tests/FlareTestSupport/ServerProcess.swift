import Foundation
import Glibc

/// Why a node did not come up (or a test's set-up failed).
public struct StartFailure: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// An `api` or `datanode` process, normally on a port the kernel picked.
///
/// Nodes are started with `--port 0` and the bound port is read from their "listening on"
/// log line: a port probed with a throw-away socket is not safe, because a node with more
/// than one loop binds with SO_REUSEPORT, and two nodes on one port would both start and
/// share the connections. A restart may ask for the port the node had before.
public final class ServerProcess: @unchecked Sendable {
    public let name: String
    public let executable: String
    public let logPath: String
    /// How long a start may take before it counts as failed. Generous: with the whole suite
    /// running in parallel on two cores, data nodes that were listening within 3 s once took
    /// over 20 s to answer their first `/health`.
    public let startSecondsMax: Double
    public private(set) var child: ChildProcess?
    public private(set) var port: UInt16 = 0
    private var logOffset = 0

    public init(name: String, executable: String, logPath: String, startSecondsMax: Double = 45) {
        self.name = name
        self.executable = executable
        self.logPath = logPath
        self.startSecondsMax = startSecondsMax
    }

    deinit { child?.killNow() }

    /// `https` for a node started with TLS; ``probeOptions`` then name the CA its /health is checked with.
    public var scheme = "http"
    /// curl options of the /health probes (e.g. `--cacert <the test CA>`).
    public var probeOptions: [String] = []

    public var base: String { "\(scheme)://127.0.0.1:\(port)" }
    public var address: String { "127.0.0.1:\(port)" }
    public var isRunning: Bool { child.map { !$0.hasExited } ?? false }

    /// Starts with `arguments` plus `--port <port>` (0: the kernel picks) and waits, bounded,
    /// until `GET /health` is 200.
    public func start(_ arguments: [String], scratch: String, port requested: UInt16 = 0) async throws {
        if let child, !child.hasExited { throw StartFailure(description: "\(name) is already running (pid \(child.pid))") }
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        logOffset = Int(try log.seekToEnd())
        port = 0
        let child = try ChildProcess(executable, arguments + ["--port", "\(requested)"], stdout: log, stderr: log)
        try log.close()
        self.child = child
        // The deadline alone would also count time this test process spent starved (every
        // test of the run shares two cores): once the node listens it fails only after
        // `probesMin` answered-or-refused probes too, within a hard bound of three deadlines.
        let started = ContinuousClock.now
        let deadline = started + .seconds(startSecondsMax), hardDeadline = started + .seconds(3 * startSecondsMax)
        var probes = 0
        var lastProbe = "no probe yet: the node never logged its port"
        while true {
            guard !child.hasExited else {
                let status = await child.exitStatus()
                throw StartFailure(description: "\(name) exited with \(status) at start:\n\(currentLog())")
            }
            if port == 0, let bound = listeningPort() {
                guard requested == 0 || bound == requested else {
                    child.killNow()
                    throw StartFailure(description: "\(name) listens on \(bound), not on the requested \(requested)")
                }
                port = bound
            }
            if port != 0 {
                do {
                    let status = try await curl(["--max-time", "2"] + probeOptions + ["\(base)/health"], scratch: scratch).status
                    if status == 200 { return }
                    lastProbe = "the last probe got HTTP \(status)"
                } catch {
                    lastProbe = "the last probe failed: \(error)"
                }
                probes += 1
            }
            let now = ContinuousClock.now
            if now >= hardDeadline || (now >= deadline && (port == 0 || probes >= Self.probesMin)) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        child.killNow()
        let waited = Double((ContinuousClock.now - started).components.seconds)
        throw StartFailure(description: "\(name) did not answer /health within \(Int(waited)) s (\(probes) probes; \(lastProbe)):\n\(currentLog())")
    }

    /// Probes of `/health` a start must have failed before its deadline can fail it.
    static let probesMin = 10

    /// Sends `signal` and waits (bounded) for the exit; returns the status, `nil` if it is still running.
    @discardableResult
    public func stop(_ signal: Int32, withinSeconds seconds: Double = 10) async -> Int32? {
        guard let child else { return nil }
        child.send(signal)
        return await child.exitStatus(within: seconds)
    }

    /// Sends `signal` without waiting (SIGSTOP: a hung node, its sockets open; SIGCONT).
    public func signal(_ signal: Int32) { child?.send(signal) }

    /// SIGKILL now, for cleanup.
    public func killNow() { child?.killNow() }

    /// What this start wrote to the log.
    public func currentLog() -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "" }
        return String(decoding: data.dropFirst(logOffset), as: UTF8.self)
    }

    private func listeningPort() -> UInt16? {
        for line in currentLog().split(separator: "\n") {
            guard let after = line.range(of: " listening on ")?.upperBound else { continue }
            var address = line[after...].prefix { $0 != " " }
            if address.last == ":" { address = address.dropLast() }
            guard let colon = address.lastIndex(of: ":") else { continue }
            return UInt16(address[address.index(after: colon)...])
        }
        return nil
    }
}
