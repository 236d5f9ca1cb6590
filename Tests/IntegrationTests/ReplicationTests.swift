import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Copies of every chunk on distinct data nodes: what `--replicas` promises, read off the
/// data directories, and what survives a dead node.
@Suite("Replication")
struct ReplicationTests {
    /// Awkward sizes around the 64 KiB chunk of these clusters.
    static let sizes = [0, 1, 65535, 65536, 65537, 5 * 65536 + 3]

    @Test("--replicas 1, 2, 3 on three nodes: every chunk on exactly N nodes; awkward sizes round-trip byte for byte",
          arguments: testedEngines, [1, 2, 3])
    func exactlyNCopies(engine: IOEngineKind, replicas: Int) async throws {
        try await withCluster(engine, "replicas\(replicas)", apiOptions: ["--chunk-size", "64KiB", "--replicas", "\(replicas)"]) { cluster in
            for size in Self.sizes {
                let file = try await cluster.randomFile("size-\(size)", size: size)
                #expect(try await cluster.put("s/\(size)", file: file).status == 201)
                #expect(try await cluster.get("s/\(size)", to: file + ".out").status == 200)
                #expect(try await sameBytes(file, file + ".out", scratch: cluster.scratch.tmp), "\(size) bytes")
            }
            let copies = try await cluster.copiesPerChunk()
            let chunks = Self.sizes.map { ($0 + 65535) / 65536 }.reduce(0, +)
            #expect(copies.count == chunks, "\(copies.count) distinct chunks on the nodes, \(chunks) expected")
            #expect(copies.values.allSatisfy { $0 == replicas }, "copies per chunk: \(Set(copies.values)), expected \(replicas)")
        }
    }

    @Test("4 nodes in 2 zones, replicas 2: the copies of every chunk are in different zones; with a zone's last node gone both copies go to the other",
          arguments: testedEngines)
    func copiesInDifferentZones(engine: IOEngineKind) async throws {
        let zones = ["east", "east", "west", "west"]
        try await withCluster(engine, "zones", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2"],
                              perNodeOptions: zones.map { ["--zone", $0] }, dataNodeCount: 4) { cluster in
            for size in Self.sizes + [24 * 65536 + 7] {
                let file = try await cluster.randomFile("size-\(size)", size: size)
                #expect(try await cluster.put("z/\(size)", file: file).status == 201)
                #expect(try await cluster.get("z/\(size)", to: file + ".out").status == 200)
                #expect(try await sameBytes(file, file + ".out", scratch: cluster.scratch.tmp), "\(size) bytes")
            }
            let perNode = try await cluster.chunksPerNode()
            var zonesOf: [String: [String]] = [:]
            for (index, chunks) in perNode.enumerated() {
                for chunk in chunks { zonesOf[chunk, default: []].append(zones[index]) }
            }
            let chunks = (Self.sizes + [24 * 65536 + 7]).map { ($0 + 65535) / 65536 }.reduce(0, +)
            #expect(zonesOf.count == chunks, "\(zonesOf.count) distinct chunks on the nodes, \(chunks) expected")
            let together = zonesOf.filter { $0.value.count != 2 || Set($0.value).count != 2 }
            #expect(together.isEmpty, "chunks not in one copy per zone: \(together)")
            #expect(perNode.allSatisfy { !$0.isEmpty }, "a node got none of \(chunks) chunks: \(perNode.map(\.count))")

            // One west node left: it takes a copy of every new chunk.
            await cluster.dataNodes[2].stop(SIGKILL, withinSeconds: 5)
            let before = try await cluster.chunksPerNode()
            let one = try await cluster.randomFile("one-west", size: 6 * 65536)
            #expect(try await cluster.put("one-west", file: one).status == 201)
            let after = try await cluster.chunksPerNode()
            #expect(after[3].subtracting(before[3]).count == 6, "the last west node should hold a copy of all 6 new chunks")
            // No west node: fewer zones than replicas, so both copies go east, and it still reads.
            await cluster.dataNodes[3].stop(SIGKILL, withinSeconds: 5)
            let east = try await cluster.randomFile("no-west", size: 5 * 65536 + 1)
            #expect(try await cluster.put("no-west", file: east).status == 201)
            let last = try await cluster.chunksPerNode()
            for node in [0, 1] {
                #expect(last[node].subtracting(after[node]).count == 6, "east node \(node + 1) should hold all 6 chunks")
            }
            for (key, file) in [("one-west", one), ("no-west", east)] {
                let get = try await cluster.get(key, to: file + ".out")
                #expect(get.status == 200 && get.curlExit == 0, "\(key): \(get)")
                #expect(try await sameBytes(file, file + ".out", scratch: cluster.scratch.tmp), "\(key)")
            }
        }
    }

    @Test("replicas 2, one of three nodes killed: every object reads back whole; new PUTs land twice on the two left",
          arguments: testedEngines)
    func survivesADeadNode(engine: IOEngineKind) async throws {
        try await withCluster(engine, "survive", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2"]) { cluster in
            var files: [String: String] = [:]
            for (index, size) in (Self.sizes + [20 * 65536 + 9]).enumerated() {
                files["o/\(index)"] = try await cluster.randomFile("o-\(index)", size: size)
                #expect(try await cluster.put("o/\(index)", file: files["o/\(index)"]!).status == 201)
            }
            await cluster.dataNodes[1].stop(SIGKILL, withinSeconds: 5)
            try await cluster.expectEveryObjectReadsBack(files, "with a node dead")
            let before = try await cluster.chunksPerNode()
            let file = try await cluster.randomFile("after", size: 3 * 65536 + 1)
            #expect(try await cluster.put("after", file: file).status == 201)
            let after = try await cluster.chunksPerNode()
            for live in [0, 2] {
                #expect(after[live].subtracting(before[live]).count == 4, "node \(live) should hold all 4 chunks of the new object")
            }
            #expect(try await cluster.get("after", to: file + ".out").status == 200)
            #expect(try await sameBytes(file, file + ".out", scratch: cluster.scratch.tmp))
        }
    }

    @Test("replicas 3 with one of three nodes dead: 503 naming the missing copies, nothing committed, no chunk left behind",
          arguments: testedEngines)
    func tooFewNodes(engine: IOEngineKind) async throws {
        try await withCluster(engine, "toofew", apiOptions: ["--chunk-size", "64KiB", "--replicas", "3"]) { cluster in
            await cluster.dataNodes[2].stop(SIGKILL, withinSeconds: 5)
            let file = try await cluster.randomFile("big", size: 4 * 65536)
            let put = try await cluster.put("refused", file: file)
            #expect(put.status == 503 && put.isJSON, "\(put)")
            #expect(put.text.contains("needs 3 copies"), "\(put.text)")
            #expect(try await cluster.get("refused").status == 404)
            let cleaned = try await cluster.poll(seconds: 10) {
                try await cluster.chunksPerNode().prefix(2).allSatisfy(\.isEmpty)
            }
            let left = try await cluster.chunksPerNode().prefix(2).map(\.count)
            #expect(cleaned, "copies of the refused upload are left on the live nodes: \(left)")
        }
    }

    @Test("replicas 2: kill -9 one of three nodes while 32 clients PUT and GET: no failed GET, every PUT acknowledged, all identical",
          arguments: testedEngines)
    func killUnderLoad(engine: IOEngineKind) async throws {
        try await withCluster(engine, "killload", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2"]) { cluster in
            let clients = 32, rounds = 3
            var files: [String] = []
            for index in 0..<clients { files.append(try await cluster.randomFile("load-\(index)", size: 1 + index * 37_003)) }
            let started = Counter()
            let failures = try await withThrowingTaskGroup(of: [String].self) { group in
                for (index, file) in files.enumerated() {
                    group.addTask {
                        var problems: [String] = []
                        for round in 0..<rounds {
                            let key = "load/\(index)/\(round)"
                            await started.increment()
                            let put = try await cluster.put(key, file: file)
                            guard put.status == 201 else { problems.append("PUT \(key): \(put)"); continue }
                            let get = try await cluster.get(key, to: "\(file).\(round).out")
                            guard get.status == 200, get.curlExit == 0 else { problems.append("GET \(key): \(get)"); continue }
                            if !(try await sameBytes(file, "\(file).\(round).out", scratch: cluster.scratch.tmp)) {
                                problems.append("\(key) came back different")
                            }
                        }
                        return problems
                    }
                }
                // The kill lands while the clients are busy: after a third of the uploads began.
                let busy = try await cluster.poll(seconds: 30) { await started.value >= clients * rounds / 3 }
                #expect(busy, "the clients never got going")
                await cluster.dataNodes[1].stop(SIGKILL, withinSeconds: 5)
                var failures: [String] = []
                for try await problems in group { failures += problems }
                return failures
            }
            #expect(failures.isEmpty, "\(failures.count) failures with a node killed:\n\(failures.joined(separator: "\n"))")
            for (index, file) in files.enumerated() {
                for round in 0..<rounds {
                    let get = try await cluster.get("load/\(index)/\(round)", to: file + ".again")
                    #expect(get.status == 200 && get.curlExit == 0, "load/\(index)/\(round) afterwards: \(get)")
                    #expect(try await sameBytes(file, file + ".again", scratch: cluster.scratch.tmp))
                }
            }
        }
    }

    /// The api's view of its data nodes (`GET /health`): id → address and state.
    static func apiNodes(_ cluster: Cluster) async throws -> [String: (address: String, state: String)] {
        let health = try await curl(["--max-time", "5", "\(cluster.base)/health"], scratch: cluster.scratch.tmp)
        var nodes: [String: (address: String, state: String)] = [:]
        for node in (health.json?["nodes"] as? [[String: Any]]) ?? [] {
            if let id = node["id"] as? String, let address = node["address"] as? String, let state = node["state"] as? String {
                nodes[id] = (address, state)
            }
        }
        return nodes
    }

    @Test("manifests name nodes by id: a data node restarted on another port, given to the api there, serves its chunks again",
          arguments: testedEngines)
    func nodeMovesPort(engine: IOEngineKind) async throws {
        try await withCluster(engine, "moved", apiOptions: ["--chunk-size", "64KiB", "--replicas", "1"]) { cluster in
            let file = try await cluster.randomFile("moved", size: 9 * 65536 + 5)
            #expect(try await cluster.put("moved", file: file).status == 201)
            let before = try await Self.apiNodes(cluster)
            #expect(before.count == 3 && before.keys.allSatisfy { $0.count == 32 }, "\(before)")
            _ = await cluster.api.stop(SIGTERM)
            let oldAddress = cluster.dataNodes[0].address
            _ = await cluster.dataNodes[0].stop(SIGTERM)
            try await cluster.startDataNode(0)  // the kernel picks another port
            #expect(cluster.dataNodes[0].address != oldAddress)
            try await cluster.startAPI()
            let get = try await cluster.get("moved", to: file + ".out")
            #expect(get.status == 200 && get.curlExit == 0, "\(get)")
            #expect(try await sameBytes(file, file + ".out", scratch: cluster.scratch.tmp))
            let after = try await Self.apiNodes(cluster)
            #expect(Set(after.keys) == Set(before.keys), "the same three ids: \(after)")
            #expect(after.values.contains { $0.address == cluster.dataNodes[0].address })
        }
    }

    @Test("a data node whose directory was wiped comes back with a new id; it is not taken for the old one, and reads use the other copy",
          arguments: testedEngines)
    func wipedNodeIsNew(engine: IOEngineKind) async throws {
        try await withCluster(engine, "wiped", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2"]) { cluster in
            var files: [String: String] = [:]
            for index in 0..<6 {
                files["w/\(index)"] = try await cluster.randomFile("w-\(index)", size: 3 * 65536 + index)
                #expect(try await cluster.put("w/\(index)", file: files["w/\(index)"]!).status == 201)
            }
            let before = try await Self.apiNodes(cluster)
            let port = cluster.dataNodes[0].port
            let oldID = try #require(before.first { $0.value.address == cluster.dataNodes[0].address }?.key)
            _ = await cluster.dataNodes[0].stop(SIGTERM)
            try FileManager.default.removeItem(atPath: "\(cluster.scratch.path)/datanode-1")
            try await cluster.startDataNode(0, port: port)
            let relearned = try await cluster.poll(seconds: 10) {
                let nodes = try await Self.apiNodes(cluster)
                return nodes[oldID] == nil && nodes.values.contains { $0.address == cluster.dataNodes[0].address }
            }
            let now = try await Self.apiNodes(cluster)
            #expect(relearned, "the api still takes the wiped node for \(oldID): \(now)")
            try await cluster.expectEveryObjectReadsBack(files, "after")
        }
    }

    @Test("replicas 2, a node SIGSTOPped (hung, sockets open): GETs and PUTs complete within --datanode-timeout and a margin; after SIGCONT it takes chunks again",
          arguments: testedEngines)
    func hungNode(engine: IOEngineKind) async throws {
        try await withCluster(engine, "hung", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2", "--datanode-timeout", "2"]) { cluster in
            var files: [String: String] = [:]
            for index in 0..<6 {
                files["h/\(index)"] = try await cluster.randomFile("h-\(index)", size: 4 * 65536 + index)
                #expect(try await cluster.put("h/\(index)", file: files["h/\(index)"]!).status == 201)
            }
            let hung = cluster.dataNodes[0]
            hung.signal(SIGSTOP)
            defer { hung.signal(SIGCONT) }
            // A request may wait out one data-node timeout (2 s) before the node is suspect;
            // curl's limit is that plus a margin for this shared machine.
            let limit = ["--max-time", "12"]
            for (key, file) in files.sorted(by: { $0.key < $1.key }) {
                let get = try await cluster.get(key, to: file + ".out", extra: limit)
                #expect(get.status == 200 && get.curlExit == 0, "\(key) with a node hung: \(get)")
                #expect(try await sameBytes(file, file + ".out", scratch: cluster.scratch.tmp), "\(key)")
            }
            for index in 0..<3 {
                let file = try await cluster.randomFile("during-\(index)", size: 3 * 65536 + index)
                let put = try await cluster.put("during/\(index)", file: file, extra: limit)
                #expect(put.status == 201, "PUT with a node hung: \(put)")
            }
            let view = try await Self.apiNodes(cluster)
            #expect(view.values.contains { $0.address == hung.address && $0.state != "up" }, "the hung node is not suspect or down: \(view)")
            hung.signal(SIGCONT)
            let back = try await cluster.poll(seconds: 15) {
                try await Self.apiNodes(cluster).values.contains { $0.address == hung.address && $0.state == "up" }
            }
            #expect(back, "the node is not up again after SIGCONT")
            let before = try await cluster.chunks(on: hung)
            let file = try await cluster.randomFile("after", size: 16 * 65536)
            #expect(try await cluster.put("after", file: file).status == 201)
            #expect(try await cluster.chunks(on: hung).count > before.count, "the node got none of 16 new chunks after SIGCONT")
        }
    }

    @Test("replicas 2, --datanode-timeout 30: a node SIGSTOPped in the middle of a GET and of a PUT is left as soon as the api finds it failing, long before the timeout",
          arguments: testedEngines)
    func hungNodeAbandoned(engine: IOEngineKind) async throws {
        try await withCluster(engine, "abandon", apiOptions: ["--chunk-size", "1MiB", "--replicas", "2", "--datanode-timeout", "30"]) { cluster in
            let hung = cluster.dataNodes[0]
            defer { hung.signal(SIGCONT) }
            // 40 MiB at 5 MB/s: each transfer lasts about 8 s, more than socket buffers hide,
            // and the node hangs 2 s in. Waiting out the data-node timeout would take 30 s;
            // curl gives up at 20.
            let slow = ["--limit-rate", "5M", "--max-time", "20"]
            let file = try await cluster.randomFile("big", size: 40 << 20)
            #expect(try await cluster.put("big", file: file).status == 201)
            #expect(try await cluster.chunks(on: hung).count > 0, "node 1 holds none of 40 chunks")
            async let get = cluster.get("big", to: file + ".out", extra: slow)
            try await Task.sleep(for: .seconds(2))
            hung.signal(SIGSTOP)
            let got = try await get
            #expect(got.status == 200 && got.curlExit == 0, "GET with a node hung mid-transfer: \(got)")
            #expect(try await sameBytes(file, file + ".out", scratch: cluster.scratch.tmp))
            hung.signal(SIGCONT)
            let back = try await cluster.poll(seconds: 15) {
                try await Self.apiNodes(cluster).values.contains { $0.address == hung.address && $0.state == "up" }
            }
            #expect(back, "the node is not up again after SIGCONT")

            let upload = try await cluster.randomFile("up", size: (40 << 20) + 3)
            async let put = cluster.put("up", file: upload, extra: slow)
            try await Task.sleep(for: .seconds(2))
            hung.signal(SIGSTOP)
            let stored = try await put
            #expect(stored.status == 201 && stored.curlExit == 0, "PUT with a node hung mid-transfer: \(stored)")
            let back2 = try await cluster.get("up", to: upload + ".out", extra: ["--max-time", "20"])
            #expect(back2.status == 200 && back2.curlExit == 0, "\(back2)")
            #expect(try await sameBytes(upload, upload + ".out", scratch: cluster.scratch.tmp))
        }
    }

    @Test("replicas 2: a replica with a flipped byte on disk, and a replica file deleted: GETs return the right bytes, the bad replicas are counted",
          arguments: testedEngines)
    func damagedReplicas(engine: IOEngineKind) async throws {
        // Window 1: one fetch at a time, so no node is busier than another when a read picks
        // a copy, and each chunk is read from its manifest's first replica.
        try await withCluster(engine, "damaged", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2", "--window", "1"]) { cluster in
            let file = try await cluster.randomFile("damaged", size: 6 * 65536 + 11)
            #expect(try await cluster.put("damaged", file: file).status == 201)
            // Damage the copy each chunk is read from first (the manifest's first replica, all
            // nodes being up): flip a byte in half of them, delete the others.
            let addresses = try await Self.apiNodes(cluster).mapValues(\.address)
            let chunks = try await cluster.manifestChunks("damaged")
            #expect(chunks.count == 7)
            for (position, chunk) in chunks.enumerated() {
                let index = try #require(cluster.dataNodes.firstIndex { $0.address == addresses[chunk.replicas[0]] },
                                         "node \(chunk.replicas[0]) of chunk \(chunk.id) is not in \(addresses)")
                let path = "\(cluster.scratch.path)/datanode-\(index + 1)/chunks/\(chunk.id.prefix(2))/\(chunk.id)"
                if position % 2 == 0 {
                    let handle = try #require(FileHandle(forUpdatingAtPath: path))
                    try handle.seek(toOffset: 100)
                    let byte = try #require(try handle.read(upToCount: 1))
                    try handle.seek(toOffset: 100)
                    try handle.write(contentsOf: Data([byte[0] ^ 0x40]))
                    try handle.close()
                } else {
                    try FileManager.default.removeItem(atPath: path)
                }
            }
            for attempt in 0..<2 {
                let get = try await cluster.get("damaged", to: file + ".out")
                #expect(get.status == 200 && get.curlExit == 0, "attempt \(attempt): \(get)")
                #expect(try await sameBytes(file, file + ".out", scratch: cluster.scratch.tmp), "attempt \(attempt)")
            }
            let metrics = try await curl(["\(cluster.base)/metrics"], scratch: cluster.scratch.tmp).text
            // Every damaged copy is read first by each GET: 7 of them at least once.
            let bad = metrics.split(separator: "\n").filter { $0.hasPrefix("flare_api_bad_replicas_total{") }
            let counted = bad.compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
            #expect(counted >= 7, "7 damaged replicas read, \(counted) counted:\n\(bad.joined(separator: "\n"))")
        }
    }

    @Test("a DELETE removes every replica; the copies on a node that is down stay queued until it is back",
          arguments: testedEngines)
    func deleteWithNodeDown(engine: IOEngineKind) async throws {
        try await withCluster(engine, "deldown", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2", "--deletion-grace", "0"]) { cluster in
            let file = try await cluster.randomFile("gone", size: 8 * 65536)
            #expect(try await cluster.put("gone", file: file).status == 201)
            let down = cluster.dataNodes[0]
            let heldByDown = try await cluster.chunks(on: down)
            #expect(!heldByDown.isEmpty, "node 1 holds none of 8 chunks with 2 replicas on 3 nodes")
            let port = down.port
            _ = await down.stop(SIGKILL, withinSeconds: 5)
            #expect(try await cluster.delete("gone").status == 204)
            let othersEmpty = try await cluster.poll(seconds: 15) { try await cluster.chunksPerNode().allSatisfy(\.isEmpty) }
            #expect(othersEmpty, "the live nodes still hold copies of the deleted object")
            #expect(try cluster.chunksOnDisk(0) == heldByDown, "the down node's copies went while it was down")
            try await cluster.startDataNode(0, port: port)
            let gone = try await cluster.poll(seconds: 20) { try await cluster.chunks(on: down).isEmpty }
            #expect(gone, "the copies queued for the node that was down were not deleted once it was back")
        }
    }
}

/// A count shared by concurrent clients.
actor Counter {
    private(set) var value = 0
    func increment() { value += 1 }
}
