import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// `make run`'s script (scripts/run-cluster.sh), run as a user runs it: in a terminal's
/// foreground process group, stopped with Ctrl-C, which the terminal sends to every process
/// of the group; and under `make`, as `make run` runs it, stopped by a supervisor's SIGTERM to
/// the whole group.
@Suite("make run's cluster script")
struct RunClusterTests {
    /// The script, or `make` running it, started for one test, with the cluster up.
    struct Launch {
        let leader: ChildProcess
        let apiPort: UInt16
        let dataNodePorts: [UInt16]
        let s3Port: UInt16
        let scratch: Scratch
        let logPath: String

        var ports: [UInt16] { [apiPort] + dataNodePorts + [s3Port] }
        var dataPath: String { "\(scratch.path)/data" }
        func nodeLog(_ name: String) -> String { readText("\(dataPath)/logs/\(name).log") }
        var nodeLogNames: [String] { ["api"] + dataNodePorts.map { "datanode-\($0)" } }
    }

    /// Ports below the kernel's ephemeral range (32768 and up here), free when picked, from a
    /// range of the test's own (each test runs once per engine, and all may run at once): the
    /// other tests' nodes take ephemeral ports (`--port 0`), and the nodes bind with
    /// SO_REUSEPORT, so a port another node holds would be shared, not refused.
    static func freeFixedPorts(_ count: Int, engine: IOEngineKind, viaMake: Bool) throws -> [UInt16] {
        let index = UInt16((engine == .uring ? 0 : 1) + (viaMake ? 2 : 0))
        let range: ClosedRange<UInt16> = (20000 + 2500 * index)...(22499 + 2500 * index)
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

    /// The processes whose command line names `path`, with their arguments.
    static func processes(naming path: String) -> [(pid: Int32, arguments: [String])] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = Int32(entry), pid != getpid(),
                  let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let arguments = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            return arguments.contains { $0.contains(path) } ? (pid, arguments) : nil
        }
    }

    /// `signal` to every process whose command line names `path` (the nodes of a script that
    /// did not stop them: they live in sessions of their own).
    static func signalProcesses(naming path: String, _ signal: Int32) {
        for process in processes(naming: path) { Glibc.kill(process.pid, signal) }
    }

    /// The parent and the state letter of a process (`/proc/<pid>/stat`), `nil` once it is reaped.
    static func parentAndState(_ pid: Int32) -> (parent: Int32, state: Character)? {
        let stat = readText("/proc/\(pid)/stat")
        // The command name, in parentheses, may hold spaces and parentheses itself.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 1, let state = fields[0].first, let parent = Int32(fields[1]) else { return nil }
        return (parent, state)
    }

    static func isGone(_ pid: Int32) -> Bool { Glibc.kill(pid, 0) != 0 && errno == ESRCH }

    static func canBind(_ port: UInt16) -> Bool {
        withLoopbackSocket(port) { fd, address, length in bind(fd, address, length) == 0 } ?? false
    }

    static func isListening(_ port: UInt16) -> Bool {
        withLoopbackSocket(port) { fd, address, length in connect(fd, address, length) == 0 } ?? false
    }

    private static func withLoopbackSocket(_ port: UInt16, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool) -> Bool? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Polls `condition` every 20 ms; false when it still does not hold after `seconds`.
    static func eventually(within seconds: Int, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    @Test("it starts the cluster, objects go in and come back, and Ctrl-C stops every process cleanly", arguments: testedEngines)
    func startServeStop(engine: IOEngineKind) async throws {
        try await Self.withCluster(engine, viaMake: false) { try await Self.serveThenInterrupt($0) }
    }

    @Test("make run: SIGTERM to its whole process group, then INT, HUP and TERM again while it stops: every node stops, nothing listens",
          arguments: testedEngines)
    func makeRunStopsWhateverSignalsArrive(engine: IOEngineKind) async throws {
        try await Self.withCluster(engine, viaMake: true) { try await Self.signalWhileStopping($0) }
    }

    /// Starts the cluster (through `make run` when `viaMake`), runs `body` on it, and leaves no
    /// process of it behind, also when `body` throws.
    static func withCluster(_ engine: IOEngineKind, viaMake: Bool, _ body: (Launch) async throws -> Void) async throws {
        try skipIfUnavailable(engine)
        await clusterSlots.acquire()
        let scratch: Scratch
        do {
            scratch = try Scratch("\(viaMake ? "make-run" : "run")-\(engine)")
        } catch {
            await clusterSlots.release()
            throw error
        }
        do {
            try await exercise(engine, viaMake: viaMake, scratch, body)
        } catch {
            scratch.remove()
            await clusterSlots.release()
            throw error
        }
        scratch.remove()
        await clusterSlots.release()
    }

    static func exercise(_ engine: IOEngineKind, viaMake: Bool, _ scratch: Scratch, _ body: (Launch) async throws -> Void) async throws {
        let ports = try freeFixedPorts(5, engine: engine, viaMake: viaMake)
        let logPath = "\(scratch.path)/run.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        var environment = ProcessInfo.processInfo.environment
        environment["FLARE_BIN_DIR"] = (try builtExecutable("api") as NSString).deletingLastPathComponent
        environment["FLARE_DATA_DIR"] = "\(scratch.path)/data"
        environment["FLARE_API_PORT"] = "\(ports[0])"
        environment["FLARE_S3_PORT"] = "\(ports[4])"
        environment["FLARE_DATANODE_PORTS"] = ports[1...3].map(String.init).joined(separator: " ")
        environment["FLARE_IO"] = engine.rawValue
        let leader: ChildProcess
        if viaMake {
            // `make test`'s flags (-j's jobserver, -n, -k) are not those of a `make run` typed in a shell.
            for name in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL"] { environment[name] = nil }
            // The Makefile's own `run` recipe, with its prerequisites taken as done: `deps` may
            // want apt-get, `build` is a release build of minutes; FLARE_BIN_DIR names the binaries.
            leader = try ChildProcess("/usr/bin/make", ["-C", packageRoot, "--no-print-directory", "-o", "deps", "-o", "build", "run"],
                                      stdout: log, stderr: log, environment: environment)
        } else {
            leader = try ChildProcess("\(packageRoot)/scripts/run-cluster.sh", [], stdout: log, stderr: log, environment: environment)
        }
        let launch = Launch(leader: leader, apiPort: ports[0], dataNodePorts: Array(ports[1...3]), s3Port: ports[4], scratch: scratch,
                            logPath: logPath)
        do {
            // As a terminal's foreground job, it leads a process group of its own (Foundation
            // starts children so), with SIGINT and SIGTERM deliverable (ChildProcess unblocks them).
            guard getpgid(leader.pid) == leader.pid else {
                throw StartFailure(description: "\(leader.pid) is not a process group leader: pgid \(getpgid(leader.pid))")
            }
            let deadline = ContinuousClock.now + .seconds(60)
            while !readText(logPath).contains("Flare is running") {
                guard !leader.hasExited else { throw StartFailure(description: "\(viaMake ? "make run" : "the script") exited at start") }
                guard ContinuousClock.now < deadline else { throw StartFailure(description: "no cluster within 60 s") }
                try await Task.sleep(for: .milliseconds(100))
            }
            try await body(launch)
        } catch {
            // make's child, the script, when make runs it: a SIGKILL to make would leave it running.
            let scripts = processes(naming: "run-cluster.sh").map(\.pid).filter { parentAndState($0)?.parent == leader.pid }
            // The nodes live in sessions of their own: the script's SIGTERM trap stops them
            // (held ones resumed, so they can), and what is left after that is killed by the
            // data directory in its command line.
            signalProcesses(naming: "\(launch.dataPath)/", SIGCONT)
            leader.send(SIGTERM)
            if await leader.exitStatus(within: 30) == nil {
                leader.killNow()
                for pid in scripts { Glibc.kill(pid, SIGKILL) }
            }
            signalProcesses(naming: "\(launch.dataPath)/", SIGKILL)
            print("run-cluster.sh output (\(engine)\(viaMake ? ", make run" : "")):\n\(readText(logPath).suffix(3000))")
            throw error
        }
        // A test that only expected (and did not throw) may have left nodes running.
        signalProcesses(naming: "\(launch.dataPath)/", SIGKILL)
    }

    static func serveThenInterrupt(_ run: Launch) async throws {
        let source = "\(run.scratch.files)/object.bin", back = "\(run.scratch.files)/back.bin"
        try await makeRandomFile(source, size: 5 << 20 + 17)
        let url = "http://127.0.0.1:\(run.apiPort)/object/run/check"
        let put = try await curl(["--max-time", "30", "-T", source, url], scratch: run.scratch.tmp)
        #expect(put.status == 201, "PUT: \(put)")
        let get = try await curl(["--max-time", "30", url], scratch: run.scratch.tmp, bodyTo: back)
        #expect(get.status == 200, "GET: \(get)")
        #expect(try await sameBytes(source, back, scratch: run.scratch.tmp))
        // S3 is on, with the key the script made and printed; unsigned requests are refused.
        let keys = readText("\(run.dataPath)/s3-credentials")
        let key = keys.split(separator: "\n").first { !$0.hasPrefix("#") }.map { String($0.split(separator: " ")[0]) } ?? "none"
        #expect(readText(run.logPath).contains("AWS_ACCESS_KEY_ID=\(key) "), "the script did not print the S3 key \(key)")
        let anonymous = try await curl(["--max-time", "30", "http://127.0.0.1:\(run.s3Port)/flare/run/check"], scratch: run.scratch.tmp)
        #expect(anonymous.status == 403 && anonymous.text.contains("AccessDenied"), "S3 on :\(run.s3Port): \(anonymous)")
        try await checkCredentials(run)

        // Ctrl-C: SIGINT to the whole foreground process group.
        Glibc.kill(-run.leader.pid, SIGINT)
        guard let status = await run.leader.exitStatus(within: 30) else {
            throw StartFailure(description: "the script still runs 30 s after SIGINT")
        }
        let output = readText(run.logPath)
        #expect(status == 0, "exit \(status):\n\(output)")
        #expect(output.contains("stopping Flare"), "\(output)")
        #expect(!output.contains("exited unexpectedly"), "\(output)")
        // Every process it started got its SIGTERM, stopped in order, and is gone.
        let prefix = "stopping Flare (pids "
        let pids = output.split(separator: "\n").first { $0.hasPrefix(prefix) }
            .map { $0.dropFirst(prefix.count).dropLast().split(separator: " ").compactMap { Int32($0) } } ?? []
        #expect(pids.count == 4, "\(output)")
        for pid in pids {
            #expect(isGone(pid), "process \(pid) still there after the script's exit")
        }
        for name in run.nodeLogNames {
            #expect(run.nodeLog(name).contains("signal 15: stopping"), "\(name) did not stop on the script's SIGTERM:\n\(run.nodeLog(name).suffix(1000))")
        }
    }

    /// The script made a cluster secret and an admin token (owner-only files), gave them to
    /// the nodes and said how to use the token: data nodes refuse unsigned requests, the admin
    /// API takes the token from curl and from flare.
    static func checkCredentials(_ run: Launch) async throws {
        let secret = "\(run.dataPath)/cluster-secret", token = "\(run.dataPath)/admin-token"
        for path in [secret, token] {
            let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
            #expect(mode == 0o600, "\(path): mode \(String(mode ?? 0, radix: 8))")
        }
        #expect(readText(run.logPath).contains("FLARE_ADMIN_TOKEN_FILE=\(token)"), "the script did not say how to use the admin token")
        let unsigned = try await curl(["--max-time", "30", "http://127.0.0.1:\(run.dataNodePorts[0])/chunks"], scratch: run.scratch.tmp)
        #expect(unsigned.status == 401, "an unsigned request to a data node: \(unsigned)")
        for name in run.nodeLogNames where name != "api" {
            #expect(run.nodeLog(name).contains("auth on: signed requests only"), "\(name) runs without a secret")
        }
        let tokenText = readText(token).trimmingCharacters(in: .whitespacesAndNewlines)
        let admin = "http://127.0.0.1:\(run.apiPort)/admin/nodes"
        #expect(try await curl(["--max-time", "30", admin], scratch: run.scratch.tmp).status == 401)
        let allowed = try await curl(["--max-time", "30", "-H", "Authorization: Bearer \(tokenText)", admin], scratch: run.scratch.tmp)
        #expect(allowed.status == 200 && (allowed.json?["nodes"] as? [Any])?.count == 3, "\(allowed)")
        let flare = try await runFlare(["nodes"], engine: .epoll, envAPI: "http://127.0.0.1:\(run.apiPort)", envTokenFile: token,
                                       scratch: run.scratch.tmp)
        #expect(flare.status == 0 && flare.stdout.contains("3 nodes"), "\(flare)")
        // The web console the script names answers on the api's port.
        #expect(readText(run.logPath).contains("http://localhost:\(run.apiPort)/ui/"), "the script did not name the console")
        let console = try await curl(["--max-time", "30", "http://127.0.0.1:\(run.apiPort)/ui/"], scratch: run.scratch.tmp)
        #expect(console.status == 200 && console.text.contains("Flare console"), "\(console)")
    }

    /// A supervisor's SIGTERM to the whole group of `make run` reaches the script twice: from
    /// the supervisor and from make, which forwards the SIGTERM it gets to its child. More may
    /// follow while the nodes stop (a Ctrl-C, a closed terminal, a supervisor that repeats
    /// itself). Two nodes are held (SIGSTOP) so that the stop is certainly under way when they
    /// arrive. The first one released is the witness: only its parent reaps it while the parent
    /// lives, so once it is gone, the script has either reaped it and goes on, or died before.
    static func signalWhileStopping(_ run: Launch) async throws {
        var nodes: [UInt16: Int32] = [:]
        for process in processes(naming: "\(run.dataPath)/") {
            if let flag = process.arguments.firstIndex(of: "--port"), flag + 1 < process.arguments.count,
               let port = UInt16(process.arguments[flag + 1]) {
                nodes[port] = process.pid
            }
        }
        // The script stops and waits for the nodes in the order it started them: data nodes, then the api.
        let order = run.dataNodePorts + [run.apiPort]
        let pids = order.compactMap { nodes[$0] }
        guard pids.count == order.count else {
            throw StartFailure(description: "node processes by port: \(nodes), expected \(order)")
        }
        let api = pids[3], witness = pids[2], freed = Array(pids[0..<2])
        guard let script = parentAndState(api)?.parent, parentAndState(script)?.parent == run.leader.pid else {
            throw StartFailure(description: "the api's parent is not a child of make \(run.leader.pid)")
        }
        Glibc.kill(witness, SIGSTOP)
        Glibc.kill(api, SIGSTOP)

        Glibc.kill(-run.leader.pid, SIGTERM)
        guard await eventually(within: 30, { freed.allSatisfy(isGone) }) else {
            throw StartFailure(description: "data nodes still there 30 s after SIGTERM to make run's group: "
                                   + "\(freed.map { "\($0) \(parentAndState($0).map { "state \($0.state), parent \($0.parent)" } ?? "gone")" })")
        }
        for number in [SIGINT, SIGHUP, SIGTERM] { Glibc.kill(-run.leader.pid, number) }
        Glibc.kill(witness, SIGCONT)
        guard await eventually(within: 30, { isGone(witness) }) else {
            throw StartFailure(description: "data node \(witness) still there 30 s after its release")
        }
        let scriptState = parentAndState(script)?.state
        #expect(scriptState != nil && scriptState != "Z",
                "the script died of a signal that arrived while it stopped the nodes (state \(scriptState.map(String.init) ?? "reaped")); the api was still stopping")
        Glibc.kill(api, SIGCONT)
        guard await run.leader.exitStatus(within: 30) != nil else {
            throw StartFailure(description: "make run still runs 30 s after the api's release")
        }

        let output = readText(run.logPath)
        #expect(output.contains("stopping Flare"), "\(output)")
        #expect(!output.contains("exited unexpectedly"), "\(output)")
        for name in run.nodeLogNames {
            #expect(run.nodeLog(name).contains("signal 15: stopping"), "\(name) did not stop on the script's SIGTERM:\n\(run.nodeLog(name).suffix(1000))")
        }
        for pid in pids {
            #expect(isGone(pid), "node \(pid) still there after make run's exit")
        }
        for port in run.ports {
            #expect(!isListening(port), "something still listens on 127.0.0.1:\(port) after make run's exit")
        }
    }
}
