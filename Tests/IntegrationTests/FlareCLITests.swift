import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// One run of the built `flare` binary.
struct FlareRun: CustomStringConvertible {
    /// `nil`: still running after the bound, and killed.
    var status: Int32?
    var stdout: String
    var stderr: String

    /// stdout as JSON, `nil` when it is not.
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
    var object: [String: Any]? { json as? [String: Any] }

    var description: String { "exit \(status.map(String.init) ?? "none (killed)"), stdout: \(stdout), stderr: \(stderr)" }
}

/// Runs `flare` with `arguments`, its loop on `engine`, `FLARE_API` and `FLARE_ADMIN_TOKEN_FILE`
/// set only when `envAPI` and `envTokenFile` are given; bounded: a run longer than 30 s
/// (three times its default --timeout) is killed.
func runFlare(_ arguments: [String], engine: IOEngineKind, envAPI: String? = nil, envTokenFile: String? = nil,
              scratch: String) async throws -> FlareRun {
    var environment = ProcessInfo.processInfo.environment
    environment["FLARE_IO"] = engine.rawValue
    environment["FLARE_API"] = envAPI
    environment["FLARE_ADMIN_TOKEN_FILE"] = envTokenFile
    let name = UUID().uuidString
    let outPath = "\(scratch)/flare-\(name).out", errPath = "\(scratch)/flare-\(name).err"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    defer { unlink(outPath); unlink(errPath) }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    let child = try ChildProcess(try builtExecutable("flare"), arguments, stdout: out, stderr: err, environment: environment)
    try out.close()
    try err.close()
    defer { child.killNow() }
    let status = await child.exitStatus(within: 30)
    return FlareRun(status: status, stdout: readText(outPath), stderr: readText(errPath))
}

// The limit counts the wait for a cluster slot too: with every cluster suite running at once
// on two cores, the wait alone has passed five minutes.
/// The `flare` CLI against real processes: a cluster on each engine, a port nobody listens on,
/// a listener that never answers.
@Suite("flare CLI", .timeLimit(.minutes(10)))
struct FlareCLITests {
    @Test("every command and its --json against a cluster: a fourth node added, drained, activated, reweighted (a number, then capacity); remove refused (409) while a node holds copies, then --force; unknown ids exit 1",
          arguments: testedEngines)
    func everyCommand(engine: IOEngineKind) async throws {
        try await withCluster(engine, "flare-cli", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let tmp = cluster.scratch.tmp
            func flare(_ arguments: [String]) async throws -> FlareRun {
                try await runFlare(["--api", cluster.base, "--token-file", cluster.credentials.adminTokenFile] + arguments,
                                   engine: engine, scratch: tmp)
            }
            let file = try await cluster.randomFile("object", size: 1 << 20)
            let put = try await cluster.put("object", file: file)
            #expect(put.status == 201, "\(put)")

            let status = try await flare(["status"])
            #expect(status.status == 0, "\(status)")
            #expect(status.stdout.hasPrefix("api \(cluster.base): ok, engine \(engine)"), "\(status)")
            #expect(status.stdout.contains("nodes: 3 (3 active"), "\(status)")
            #expect(status.stdout.contains("\nrepair: "), "\(status)")
            let statusJSON = try await flare(["status", "--json"])
            #expect(statusJSON.status == 0, "\(statusJSON)")
            #expect((statusJSON.object?["health"] as? [String: Any])?["status"] as? String == "ok", "\(statusJSON)")
            #expect(((statusJSON.object?["layout"] as? [String: Any])?["nodes"] as? [Any])?.count == 3, "\(statusJSON)")
            #expect((statusJSON.object?["repair"] as? [String: Any])?["state"] is String, "\(statusJSON)")

            // FLARE_API and FLARE_ADMIN_TOKEN_FILE instead of --api and --token-file.
            let listed = try await runFlare(["nodes", "--json"], engine: engine, envAPI: cluster.base,
                                            envTokenFile: cluster.credentials.adminTokenFile, scratch: tmp)
            #expect(listed.status == 0, "\(listed)")
            let layout = try #require(listed.object, "\(listed)")
            let versionBefore = try #require(layout["version"] as? Int, "\(listed)")
            let nodes = try #require(layout["nodes"] as? [[String: Any]], "\(listed)")
            let ids = nodes.compactMap { $0["id"] as? String }
            #expect(ids.count == 3 && ids.allSatisfy { $0.count == 32 } && ids == ids.sorted(), "\(ids)")
            // 16 chunks of 64 KiB, two copies each, as the manifests name them.
            var copies = 0
            let counted = try await cluster.poll(seconds: 10) {
                copies = try await Self.copies(flare)
                return copies == 32
            }
            #expect(counted, "the layout names \(copies) copies, not 32")

            let table = try await flare(["nodes"])
            #expect(table.status == 0, "\(table)")
            let lines = table.stdout.split(separator: "\n")
            #expect(lines.count == 5 && lines[0].hasPrefix("layout version \(versionBefore): 3 nodes"), "\(table)")
            #expect(lines.count > 1 && lines[1].hasPrefix("ID ") && lines[1].contains("HEALTH"), "\(table)")
            for id in ids { #expect(table.stdout.contains("\(id.prefix(12))  127.0.0.1:"), "\(id) in \(table)") }

            // A fourth data node, started here and added with the CLI.
            let fourth = ServerProcess(name: "datanode 4", executable: try builtExecutable("datanode"),
                                       logPath: "\(cluster.scratch.path)/datanode-4.log")
            defer { fourth.killNow() }
            try await fourth.start(["--io", engine.rawValue, "--data-dir", "\(cluster.scratch.path)/datanode-4", "--threads", "1",
                                    "--buffer-pool", "32MiB"] + cluster.dataNodeSecretOptions, scratch: tmp)
            let added = try await flare(["node", "add", fourth.address, "--zone", "default", "--json"])
            #expect(added.status == 0, "\(added)")
            let newID = try #require(added.object?["id"] as? String, "\(added)")
            #expect(added.object?["address"] as? String == fourth.address && added.object?["state"] as? String == "active", "\(added)")
            let again = try await flare(["node", "add", fourth.address])
            #expect(again.status == 1 && again.stderr.hasPrefix("flare: ") && again.stderr.contains("(HTTP 409)"), "\(again)")
            let grown = try #require(try await flare(["nodes", "--json"]).object)
            #expect((grown["version"] as? Int ?? 0) > versionBefore, "\(grown)")
            #expect((grown["nodes"] as? [[String: Any]])?.compactMap { $0["id"] as? String }.contains(newID) == true, "\(grown)")

            // By a prefix of 8 of its 32 digits.
            let prefix = String(newID.prefix(8))
            let drained = try await flare(["node", "drain", prefix])
            #expect(drained.status == 0 && drained.stdout.hasPrefix("draining node \(newID) at \(fourth.address)"), "\(drained)")
            #expect(try await Self.node(newID, flare)?["state"] as? String == "draining")
            let activated = try await flare(["node", "activate", prefix, "--json"])
            #expect(activated.status == 0 && activated.object?["state"] as? String == "active", "\(activated)")
            let weighted = try await flare(["--json", "node", "weight", prefix, "50"])
            #expect(weighted.status == 0 && weighted.object?["weight"] as? Int == 50, "\(weighted)")
            let byCapacity = try await flare(["node", "weight", prefix, "capacity"])
            #expect(byCapacity.status == 0 && byCapacity.stdout.hasPrefix("reweighted node \(newID)"), "\(byCapacity)")
            // The api's default weight: the capacity in GiB.
            let capacityGiB = max(1, (try await Self.node(newID, flare)?["capacity_bytes"] as? Int ?? 0) >> 30)
            #expect(try await Self.node(newID, flare)?["weight"] as? Int == capacityGiB, "weight capacity: not \(capacityGiB)")

            let holder = try #require(try await Self.nodes(flare).first { ($0["copies"] as? Int ?? 0) > 0 && $0["id"] as? String != newID })
            let holderID = try #require(holder["id"] as? String)
            let refused = try await flare(["node", "remove", String(holderID.prefix(10))])
            #expect(refused.status == 1 && refused.stderr.hasPrefix("flare: ") && refused.stderr.contains("(HTTP 409)"), "\(refused)")
            #expect(try await Self.node(holderID, flare)?["state"] as? String == "active", "a refused remove changed the node")
            let forced = try await flare(["node", "remove", String(holderID.prefix(10)), "--force", "--json"])
            #expect(forced.status == 0 && forced.object?["state"] as? String == "removed", "\(forced)")

            let repair = try await flare(["repair", "status"])
            #expect(repair.status == 0 && repair.stdout.hasPrefix("repair: "), "\(repair)")
            let repairJSON = try await flare(["repair", "status", "--json"])
            #expect(["idle", "scanning", "copying"].contains(repairJSON.object?["state"] as? String ?? "none"), "\(repairJSON)")

            let known = try await Self.nodes(flare).compactMap { $0["id"] as? String }
            let unknownPrefix = try #require((0..<4096).map { String(format: "%03x", $0) }.first { candidate in !known.contains { $0.hasPrefix(candidate) } })
            let unknown = try await flare(["node", "drain", unknownPrefix])
            #expect(unknown.status == 1, "\(unknown)")
            #expect(unknown.stderr == "flare: no node's id starts with '\(unknownPrefix)' (the layout has \(known.count) nodes; see `flare nodes`)\n", "\(unknown)")
            let unknownWhole = try await flare(["node", "activate", unknownPrefix + String(repeating: "0", count: 29)])
            #expect(unknownWhole.status == 1 && unknownWhole.stderr.hasPrefix("flare: ") && unknownWhole.stderr.contains("(HTTP 404)"), "\(unknownWhole)")
            #expect(unknownWhole.stderr.split(separator: "\n").count == 1, "\(unknownWhole)")
        }
    }

    @Test("api unreachable: a port nobody listens on exits 1 at once with one line naming the URL; a listener that never answers, after --timeout",
          arguments: testedEngines)
    func unreachable(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let scratch = try Scratch("flare-cli-unreachable-\(engine)")
        defer { scratch.remove() }
        let loop = try EventLoop.start(engine: engine, name: "flare-cli-\(engine)")
        defer { loop.shutdown() }
        let (free, silent): (SocketAddress, TCPListener) = try await loop.run {
            let closed = try TCPListener(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop)
            let free = closed.localAddress
            await closed.close()
            // Never accepts: the kernel completes the handshake from the backlog, and then nothing answers.
            return (free, try TCPListener(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop))
        }
        // "connection refused", not a timeout, in the message: no clock needed.
        let refused = try await runFlare(["--api", "http://\(free)", "nodes"], engine: engine, scratch: scratch.tmp)
        #expect(refused.status == 1 && refused.stdout.isEmpty, "\(refused)")
        #expect(refused.stderr == "flare: cannot reach the api at http://\(free): connection refused\n", "\(refused)")
        let status = try await runFlare(["status", "--json"], engine: engine, envAPI: "http://\(free)", scratch: scratch.tmp)
        #expect(status.status == 1 && status.stderr.hasPrefix("flare: cannot reach the api at http://\(free)"), "\(status)")

        let hung = try await runFlare(["--api", "http://\(silent.localAddress)", "--timeout", "1", "repair", "status"],
                                      engine: engine, scratch: scratch.tmp)
        #expect(hung.status == 1, "\(hung)")
        #expect(hung.stderr == "flare: the api at http://\(silent.localAddress) did not answer within 1 s (--timeout)\n", "\(hung)")
        _ = try await loop.run { await silent.close() }
    }

    @Test("--help on every command says what it does and what the api needs; a malformed command line exits 2")
    func help() async throws {
        let scratch = try Scratch("flare-cli-help")
        defer { scratch.remove() }
        let commands: [(arguments: [String], needs: String)] = [
            ([], "/admin/nodes"), (["status"], "GET /health"), (["nodes"], "GET /admin/nodes"), (["node"], "add"),
            (["node", "add"], "POST /admin/nodes?address="), (["node", "drain"], "/drain"), (["node", "activate"], "/activate"),
            (["node", "remove"], "/remove"), (["node", "weight"], "/weight?value="), (["repair", "status"], "GET /admin/repair"),
        ]
        for (arguments, needs) in commands {
            let run = try await runFlare(arguments + ["--help"], engine: .epoll, scratch: scratch.tmp)
            #expect(run.status == 0 && run.stdout.contains("OVERVIEW: "), "\(arguments) --help: \(run)")
            #expect(run.stdout.contains(needs), "flare \(arguments.joined(separator: " ")) --help does not say \(needs): \(run.stdout)")
        }
        for malformed in [["node", "drain", "not-hex"], ["node", "weight", "abc"], ["node", "weight", "abc", "--", "-1"],
                          ["nodes", "--timeout", "0"], ["frobnicate"]] {
            let run = try await runFlare(malformed, engine: .epoll, scratch: scratch.tmp)
            #expect(run.status == 2 && !run.stderr.isEmpty && run.stdout.isEmpty, "\(malformed): \(run)")
        }
    }

    /// The layout's nodes, from `flare nodes --json`.
    static func nodes(_ flare: ([String]) async throws -> FlareRun) async throws -> [[String: Any]] {
        let run = try await flare(["nodes", "--json"])
        guard run.status == 0, let nodes = run.object?["nodes"] as? [[String: Any]] else {
            throw StartFailure(description: "flare nodes --json: \(run)")
        }
        return nodes
    }

    static func node(_ id: String, _ flare: ([String]) async throws -> FlareRun) async throws -> [String: Any]? {
        try await nodes(flare).first { $0["id"] as? String == id }
    }

    /// Copies the manifests name, over every node.
    static func copies(_ flare: ([String]) async throws -> FlareRun) async throws -> Int {
        try await nodes(flare).compactMap { $0["copies"] as? Int }.reduce(0, +)
    }
}
