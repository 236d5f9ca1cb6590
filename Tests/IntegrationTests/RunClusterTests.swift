import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// `make run`'s script (scripts/run-cluster.sh), run as a user runs it: in a terminal's
/// foreground process group, stopped with Ctrl-C, which the terminal sends to every process
/// of the group.
@Suite("make run's cluster script")
struct RunClusterTests {
    /// Ports below the kernel's ephemeral range (32768 and up here), free when picked, from a
    /// range of the engine's own (both cases may run at once): the other tests' nodes take
    /// ephemeral ports (`--port 0`), and the nodes bind with SO_REUSEPORT, so a port another
    /// node holds would be shared, not refused.
    static func freeFixedPorts(_ count: Int, engine: IOEngineKind) throws -> [UInt16] {
        let range: ClosedRange<UInt16> = engine == .uring ? 20000...24999 : 25000...29999
        var ports: [UInt16] = []
        var attempts = 0
        while ports.count < count {
            attempts += 1
            guard attempts < 1000 else { throw StartFailure(description: "no free port in \(range)") }
            let port = UInt16.random(in: range)
            if !ports.contains(port) && canBind(port) { ports.append(port) }
        }
        return ports
    }

    /// SIGKILL to every process whose command line names `path` (the nodes of a script that did
    /// not stop them: they live in sessions of their own).
    static func killProcesses(naming path: String) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != getpid(),
                  let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            if String(decoding: raw, as: UTF8.self).contains(path) { Glibc.kill(pid, SIGKILL) }
        }
    }

    static func canBind(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    @Test("it starts the cluster, objects go in and come back, and Ctrl-C stops every process cleanly", arguments: testedEngines)
    func startServeStop(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        await clusterSlots.acquire()
        let scratch: Scratch
        do {
            scratch = try Scratch("run-\(engine)")
        } catch {
            await clusterSlots.release()
            throw error
        }
        do {
            try await Self.exercise(engine, scratch)
        } catch {
            scratch.remove()
            await clusterSlots.release()
            throw error
        }
        scratch.remove()
        await clusterSlots.release()
    }

    static func exercise(_ engine: IOEngineKind, _ scratch: Scratch) async throws {
        let ports = try freeFixedPorts(4, engine: engine)
        let apiPort = ports[0]
        let logPath = "\(scratch.path)/run.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        var environment = ProcessInfo.processInfo.environment
        environment["FLARE_BIN_DIR"] = (try builtExecutable("api") as NSString).deletingLastPathComponent
        environment["FLARE_DATA_DIR"] = "\(scratch.path)/data"
        environment["FLARE_API_PORT"] = "\(apiPort)"
        environment["FLARE_DATANODE_PORTS"] = ports.dropFirst().map(String.init).joined(separator: " ")
        environment["FLARE_IO"] = engine.rawValue
        let script = try ChildProcess("\(packageRoot)/scripts/run-cluster.sh", [], stdout: log, stderr: log, environment: environment)
        do {
            // As a terminal's foreground job, it leads a process group of its own (Foundation
            // starts children so), with SIGINT and SIGTERM deliverable (ChildProcess unblocks them).
            guard getpgid(script.pid) == script.pid else {
                throw StartFailure(description: "the script is not a process group leader: pgid \(getpgid(script.pid)), pid \(script.pid)")
            }
            try await serveThenInterrupt(script, apiPort: apiPort, dataNodePorts: Array(ports.dropFirst()), scratch, logPath)
        } catch {
            // The nodes live in sessions of their own: the script's SIGTERM trap stops them, and
            // what is left after that is killed by the data directory in its command line.
            script.send(SIGTERM)
            if await script.exitStatus(within: 30) == nil { script.killNow() }
            Self.killProcesses(naming: "\(scratch.path)/data/")
            print("run-cluster.sh output (\(engine)):\n\(readText(logPath).suffix(3000))")
            throw error
        }
    }

    static func serveThenInterrupt(_ script: ChildProcess, apiPort: UInt16, dataNodePorts: [UInt16], _ scratch: Scratch,
                                   _ logPath: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while !readText(logPath).contains("Flare is running") {
            guard !script.hasExited else { throw StartFailure(description: "the script exited at start") }
            guard ContinuousClock.now < deadline else { throw StartFailure(description: "no cluster within 60 s") }
            try await Task.sleep(for: .milliseconds(100))
        }

        let source = "\(scratch.files)/object.bin", back = "\(scratch.files)/back.bin"
        try await makeRandomFile(source, size: 5 << 20 + 17)
        let url = "http://127.0.0.1:\(apiPort)/object/run/check"
        let put = try await curl(["--max-time", "30", "-T", source, url], scratch: scratch.tmp)
        #expect(put.status == 201, "PUT: \(put)")
        let get = try await curl(["--max-time", "30", url], scratch: scratch.tmp, bodyTo: back)
        #expect(get.status == 200, "GET: \(get)")
        #expect(try await sameBytes(source, back, scratch: scratch.tmp))

        // Ctrl-C: SIGINT to the whole foreground process group.
        Glibc.kill(-script.pid, SIGINT)
        guard let status = await script.exitStatus(within: 30) else {
            throw StartFailure(description: "the script still runs 30 s after SIGINT")
        }
        let output = readText(logPath)
        #expect(status == 0, "exit \(status):\n\(output)")
        #expect(output.contains("stopping Flare"), "\(output)")
        #expect(!output.contains("exited unexpectedly"), "\(output)")
        // Every process it started got its SIGTERM, stopped in order, and is gone.
        let prefix = "stopping Flare (pids "
        let pids = output.split(separator: "\n").first { $0.hasPrefix(prefix) }
            .map { $0.dropFirst(prefix.count).dropLast().split(separator: " ").compactMap { Int32($0) } } ?? []
        #expect(pids.count == 4, "\(output)")
        for pid in pids {
            #expect(Glibc.kill(pid, 0) != 0 && errno == ESRCH, "process \(pid) still there after the script's exit")
        }
        for name in ["api"] + dataNodePorts.map({ "datanode-\($0)" }) {
            let nodeLog = readText("\(scratch.path)/data/logs/\(name).log")
            #expect(nodeLog.contains("signal 15: stopping"), "\(name) did not stop on the script's SIGTERM:\n\(nodeLog.suffix(1000))")
        }
    }
}
