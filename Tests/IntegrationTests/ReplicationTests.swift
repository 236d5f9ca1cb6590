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

    /// How many nodes hold each chunk id, from the data nodes' own listings.
    static func copiesPerChunk(_ cluster: Cluster) async throws -> [String: Int] {
        var copies: [String: Int] = [:]
        for node in try await cluster.chunksPerNode() {
            for chunk in node { copies[chunk, default: 0] += 1 }
        }
        return copies
    }

    @Test("--replicas 1, 2, 3 on three nodes: every chunk on exactly N nodes; awkward sizes round-trip byte for byte",
          arguments: testedEngines, [1, 2, 3])
    func exactlyNCopies(engine: IOEngineKind, replicas: Int) async throws {
        try await withCluster(engine, "replicas\(replicas)", apiOptions: ["--chunk-size", "64KiB", "--replicas", "\(replicas)"],
                              busy: false) { cluster in
            for size in Self.sizes {
                let file = try await cluster.randomFile("size-\(size)", size: size)
                #expect(try await cluster.put("s/\(size)", file: file).status == 201)
                #expect(try await cluster.get("s/\(size)", to: file + ".out").status == 200)
                #expect(try await sameBytes(file, file + ".out", scratch: cluster.scratch.tmp), "\(size) bytes")
            }
            let copies = try await Self.copiesPerChunk(cluster)
            let chunks = Self.sizes.map { ($0 + 65535) / 65536 }.reduce(0, +)
            #expect(copies.count == chunks, "\(copies.count) distinct chunks on the nodes, \(chunks) expected")
            #expect(copies.values.allSatisfy { $0 == replicas }, "copies per chunk: \(Set(copies.values)), expected \(replicas)")
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
            for (key, file) in files.sorted(by: { $0.key < $1.key }) {
                let get = try await cluster.get(key, to: file + ".out")
                #expect(get.status == 200 && get.curlExit == 0, "\(key) with a node dead: \(get)")
                #expect(try await sameBytes(file, file + ".out", scratch: cluster.scratch.tmp), "\(key)")
            }
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
        try await withCluster(engine, "toofew", apiOptions: ["--chunk-size", "64KiB", "--replicas", "3"], busy: false) { cluster in
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
}

/// A count shared by concurrent clients.
actor Counter {
    private(set) var value = 0
    func increment() { value += 1 }
}
