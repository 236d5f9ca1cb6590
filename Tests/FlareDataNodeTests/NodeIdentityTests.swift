import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

extension DataNode {
    /// `GET /health` as JSON (a failed test if it is not).
    func health(sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
        let result = try await get(path: "/health")
        #expect(result.status == 200 && result.isJSON, "/health: \(result)", sourceLocation: sourceLocation)
        return result.json ?? [:]
    }
}

/// The text of `<data>/node-id`, or nil.
private func storedID(_ directory: TestDirectory) -> String? {
    FileManager.default.contents(atPath: NodeIdentity.path(in: directory.data)).map { String(decoding: $0, as: UTF8.self) }
}

/// Empties the data directory, as an operator replacing a disk would.
private func wipe(_ directory: TestDirectory) throws {
    try FileManager.default.removeItem(atPath: directory.data)
    try FileManager.default.createDirectory(atPath: directory.data, withIntermediateDirectories: true)
}

@Suite("Data node: its persistent id, zone and capacity", .limited(by: dataNodeSlots))
struct NodeIdentityTests {
    @Test("the first start creates node-id (32 hex, durable), /health reports it; a restart keeps it; a wiped directory gets another",
          arguments: testedEngines)
    func createdKeptAndReplacedWithTheDisk(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "id-life") { node, directory in
            let text = try #require(storedID(directory), "no \(NodeIdentity.fileName) after the first start")
            #expect(text.hasSuffix("\n") && text.utf8.count == 33, "node-id holds \(text.debugDescription)")
            let id = try #require(NodeID(text.dropLast()), "node-id holds \(text.debugDescription)")
            #expect(!FileManager.default.fileExists(atPath: NodeIdentity.path(in: directory.data) + ".tmp"))
            let health = try await node.health()
            #expect(health["id"] as? String == id.description, "\(health)")
            #expect(health["status"] as? String == "ok" && health["engine"] as? String == engine.rawValue, "\(health)")
            let log = node.currentLog()
            #expect(log.contains("created node id \(id)"), "\(log.suffix(1500))")
            #expect(log.contains("listening on") && log.contains("node \(id), zone default, capacity "), "\(log.suffix(1500))")

            await node.stop(signal: SIGTERM)
            try await node.start()
            #expect(try await node.health()["id"] as? String == id.description, "the id changed over a restart")
            #expect(storedID(directory) == text, "node-id was rewritten")
            #expect(!node.currentLog().contains("created node id"), "\(node.currentLog().suffix(1500))")

            await node.stop()
            try wipe(directory)
            try await node.start()
            let fresh = try #require(storedID(directory).flatMap { NodeID($0.dropLast()) })
            #expect(fresh != id, "a wiped directory kept the old id")
            #expect(try await node.health()["id"] as? String == fresh.description)
        }
    }

    @Test("--zone and --capacity are reported in /health and the listening line; capacity defaults to the file system's size",
          arguments: testedEngines)
    func zoneAndCapacity(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "id-zone", arguments: ["--zone", "eu-west-1.rack_7", "--capacity", "3GiB"]) { node, _ in
            let health = try await node.health()
            #expect(health["zone"] as? String == "eu-west-1.rack_7", "\(health)")
            #expect(health["capacityBytes"] as? Int == 3 << 30, "\(health)")
            #expect(node.currentLog().contains("zone eu-west-1.rack_7, capacity 3 GiB"), "\(node.currentLog().suffix(1500))")
        }
        try await withDataNode(engine, "id-defaults") { node, directory in
            var info = statvfs()
            #expect(statvfs(directory.data, &info) == 0)
            let health = try await node.health()
            #expect(health["zone"] as? String == "default", "\(health)")
            #expect(health["capacityBytes"] as? Int == Int(info.f_blocks) * Int(info.f_frsize), "\(health)")
            let available = try #require(health["availableBytes"] as? Int, "\(health)")
            #expect(available > 0 && available <= Int(info.f_blocks) * Int(info.f_frsize))
        }
    }

    @Test("usedBytes counts committed chunk files: up after a PUT, down after a DELETE, recounted at a restart",
          arguments: testedEngines)
    func usedBytes(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "id-used") { node, directory in
            #expect(try await node.health()["usedBytes"] as? Int == 0)
            let small = try Payload.random(10_000, in: directory.files)
            let large = try Payload.random((5 << 20) + 7, in: directory.files)
            let smallID = ChunkID.random(), largeID = ChunkID.random()
            #expect(try await node.put(smallID, small).status == 201)
            #expect(try await node.health()["usedBytes"] as? Int == ChunkFormat.fileBytes(10_000))
            #expect(try await node.put(largeID, large).status == 201)
            let both = ChunkFormat.fileBytes(10_000) + ChunkFormat.fileBytes((5 << 20) + 7)
            let onDisk = chunkFiles(directory.data).map { fileSize("\(directory.data)/chunks/\($0)") }.reduce(0, +)
            #expect(onDisk == both, "the chunk files hold \(onDisk) bytes")
            #expect(try await node.health()["usedBytes"] as? Int == both)
            #expect(try await node.delete(smallID).status == 204)
            #expect(try await node.health()["usedBytes"] as? Int == ChunkFormat.fileBytes((5 << 20) + 7))
            await node.stop()
            try await node.start()
            #expect(try await node.health()["usedBytes"] as? Int == ChunkFormat.fileBytes((5 << 20) + 7))
        }
    }

    @Test("a node-id file that is malformed or unreadable stops the start, names the file, and is left as it was",
          arguments: testedEngines)
    func badIDFileRefused(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "id-bad") { node, directory in
            let path = NodeIdentity.path(in: directory.data)
            let good = try #require(storedID(directory))
            await node.stop()
            let malformed = ["", "\n", good.uppercased(), String(good.dropFirst(2)), good + good, "not an id at all\n"]
            for contents in malformed {
                #expect(FileManager.default.createFile(atPath: path, contents: Data(contents.utf8)))
                await #expect(throws: StartFailure.self, "node-id \(contents.debugDescription)") { try await node.start() }
                #expect(node.currentLog().contains("\(path) is malformed"), "\(contents.debugDescription): \(node.currentLog().suffix(1500))")
                #expect(node.currentLog().contains("refusing to start"))
                #expect(storedID(directory) == contents, "node-id \(contents.debugDescription) was replaced")
            }
            try FileManager.default.removeItem(atPath: path)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            await #expect(throws: StartFailure.self, "node-id as a directory") { try await node.start() }
            #expect(node.currentLog().contains("cannot read the node id in \(path)"), "\(node.currentLog().suffix(1500))")
            try FileManager.default.removeItem(atPath: path)
            #expect(FileManager.default.createFile(atPath: path, contents: Data(good.utf8)))
            try await node.start()
            #expect(try await node.health()["id"] as? String == String(good.dropLast()), "the restored id is the one served")
        }
    }

    @Test("a data directory with chunks but no node-id (an older datanode's) gets an id, says so, and keeps its chunks",
          arguments: testedEngines)
    func olderDirectoryGetsAnID(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "id-old") { node, directory in
            let payload = try Payload.random(70_000, in: directory.files)
            let id = ChunkID.random()
            #expect(try await node.put(id, payload).status == 201)
            let old = try #require(storedID(directory))
            await node.stop()
            try FileManager.default.removeItem(atPath: NodeIdentity.path(in: directory.data))
            try await node.start()
            let created = try #require(storedID(directory).flatMap { NodeID($0.dropLast()) })
            #expect(created.description + "\n" != old)
            #expect(node.currentLog().contains("holds 1 chunks but no node id"), "\(node.currentLog().suffix(1500))")
            #expect(node.currentLog().contains("created node id \(created)"))
            #expect(try await node.health()["id"] as? String == created.description)
            #expect(try await node.get(id).body == payload.data)
        }
    }

    @Test("a bad --zone or --capacity is refused with a message naming the flag", arguments: testedEngines)
    func badFlagsRefused(engine: IOEngineKind) async throws {
        let directory = try TestDirectory("id-flags-\(engine)")
        defer { directory.remove() }
        let refusals: [([String], String)] = [
            (["--zone", ""], "--zone must be"), (["--zone", "rack 1"], "--zone must be"), (["--zone", "a/b"], "--zone must be"),
            (["--zone", String(repeating: "z", count: 65)], "--zone must be"), (["--zone", "zöne"], "--zone must be"),
            (["--capacity", "0"], "--capacity must be"), (["--capacity", "lots"], "--capacity must be"),
            (["--capacity=-5GiB"], "--capacity must be"), (["--capacity", "5XB"], "--capacity must be"),
        ]
        for (arguments, message) in refusals {
            let node = try DataNode(engine: engine, directory: directory, arguments: arguments)
            defer { node.kill() }
            await #expect(throws: StartFailure.self, "\(arguments)") { try await node.start() }
            #expect(node.currentLog().contains(message), "\(arguments): \(node.currentLog().suffix(800))")
        }
        #expect(storedID(directory) == nil, "a refused start wrote a node id")
        let longest = try DataNode(engine: engine, directory: directory, arguments: ["--zone", String(repeating: "z", count: 64)])
        defer { longest.kill() }
        try await longest.start()
        #expect(try await longest.health()["zone"] as? String == String(repeating: "z", count: 64))
        await longest.stop()
    }

    @Test("--help explains --zone and --capacity")
    func help() async throws {
        let result = try await runProgram(try builtExecutable("datanode"), ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("--zone <name>") && result.stdout.contains("availability zone"), "\(result.stdout)")
        #expect(result.stdout.contains("--capacity <size>") && result.stdout.contains("size of the file system"), "\(result.stdout)")
        #expect(result.stdout.contains("node-id"), "\(result.stdout)")
    }
}
