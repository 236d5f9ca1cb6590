import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Lost copies come back: a dead node's chunks are copied again from the survivors.
@Suite("Repair")
struct RepairTests {
    /// Mixed sizes around the 64 KiB chunk of these clusters, up to 11 chunks.
    static let sizes = [0, 1, 65535, 65536, 65537, 3 * 65536 + 7, 11 * 65536 - 1]

    @Test("replicas 2 on 3 nodes: a node killed and its directory deleted — after --repair-after every chunk is on both survivors, GETs during and after read right",
          arguments: testedEngines)
    func deadNodeRepaired(engine: IOEngineKind) async throws {
        try await withCluster(engine, "repair", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2", "--repair-after", "2",
                                                             "--node-down-after", "1"]) { cluster in
            var files: [String: String] = [:]
            for round in 0..<4 {
                for (index, size) in Self.sizes.enumerated() {
                    let key = "r\(round)/\(index)"
                    files[key] = try await cluster.randomFile("r\(round)-\(index)", size: size + round)
                    #expect(try await cluster.put(key, file: files[key]!).status == 201)
                }
            }
            let before = try await cluster.chunksPerNode()
            let all = before.reduce(into: Set<String>()) { $0.formUnion($1) }
            #expect(!before[0].isEmpty, "node 1 holds none of \(all.count) chunks")
            await cluster.dataNodes[0].stop(SIGKILL, withinSeconds: 5)
            try FileManager.default.removeItem(atPath: "\(cluster.scratch.path)/datanode-1")
            // Reads go on while the repair runs.
            var readsDuring = 0
            let repaired = try await cluster.poll(seconds: 40) {
                let key = files.keys.sorted()[readsDuring % files.count]
                let get = try await cluster.get(key, to: files[key]! + ".during")
                #expect(get.status == 200 && get.curlExit == 0, "\(key) during the repair: \(get)")
                #expect(try await sameBytes(files[key]!, files[key]! + ".during", scratch: cluster.scratch.tmp), "\(key) during")
                readsDuring += 1
                let now = try await cluster.chunksPerNode()
                return all.isSubset(of: now[1]) && all.isSubset(of: now[2])
            }
            let after = try await cluster.chunksPerNode()
            #expect(repaired, "chunks missing after the repair: node 2 lacks \(all.subtracting(after[1]).count), node 3 lacks \(all.subtracting(after[2]).count) of \(all.count)")
            #expect(readsDuring > 1)
            try await cluster.expectEveryObjectReadsBack(files, "after the repair")
            let metrics = try await curl(["\(cluster.base)/metrics"], scratch: cluster.scratch.tmp).text
            let done = metrics.split(separator: "\n").first { $0.hasPrefix("flare_api_repair_copies_total{result=\"done\"}") }
            let count = done.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } } ?? 0
            #expect(Int(count) >= before[0].count, "\(before[0].count) copies lost, \(count) repaired:\n\(done ?? "no repair metric")")
        }
    }

    @Test("a node wiped and restarted (a new id on the old address): the old id's copies are made again, every chunk on two nodes",
          arguments: testedEngines)
    func wipedNodeRepaired(engine: IOEngineKind) async throws {
        // A new id places differently: after the repair, rebalancing moves some copies to where
        // the new layout wants them, and the copies moved from go after the deletion grace.
        try await withCluster(engine, "repair-wiped", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2", "--repair-after", "2",
                                                                   "--deletion-grace", "1"]) { cluster in
            var files: [String: String] = [:]
            for (index, size) in Self.sizes.enumerated() {
                files["w/\(index)"] = try await cluster.randomFile("w-\(index)", size: size)
                #expect(try await cluster.put("w/\(index)", file: files["w/\(index)"]!).status == 201)
            }
            let all = try await cluster.chunksPerNode().reduce(into: Set<String>()) { $0.formUnion($1) }
            let port = cluster.dataNodes[0].port
            await cluster.dataNodes[0].stop(SIGTERM, withinSeconds: 10)
            try FileManager.default.removeItem(atPath: "\(cluster.scratch.path)/datanode-1")
            try await cluster.startDataNode(0, port: port)
            var counts: [String: Int] = [:]
            let settled = try await cluster.poll(seconds: 30) {
                counts = try await cluster.copiesPerChunk()
                return Set(counts.keys) == all && counts.values.allSatisfy { $0 == 2 }
            }
            #expect(settled, "\(all.subtracting(counts.keys).count) chunks missing, \(counts.values.filter { $0 != 2 }.count) not on exactly two nodes, of \(all.count)")
            try await cluster.expectEveryObjectReadsBack(files, "after the repair")
        }
    }

    @Test("objects stored with --replicas 1, the api restarted with --replicas 2: every chunk gets its second copy, on another node",
          arguments: testedEngines)
    func replicasRaised(engine: IOEngineKind) async throws {
        try await withCluster(engine, "raise", apiOptions: ["--chunk-size", "64KiB", "--replicas", "1"]) { cluster in
            var files: [String: String] = [:]
            for (index, size) in Self.sizes.enumerated() {
                files["u/\(index)"] = try await cluster.randomFile("u-\(index)", size: size)
                #expect(try await cluster.put("u/\(index)", file: files["u/\(index)"]!).status == 201)
            }
            let all = try await cluster.chunksPerNode().reduce(into: Set<String>()) { $0.formUnion($1) }
            await cluster.api.stop(SIGTERM, withinSeconds: 10)
            try await cluster.startAPI(options: ["--chunk-size", "64KiB", "--replicas", "2"])
            var counts: [String: Int] = [:]
            let settled = try await cluster.poll(seconds: 30) {
                counts = try await cluster.copiesPerChunk()
                return Set(counts.keys) == all && counts.values.allSatisfy { $0 == 2 }
            }
            #expect(settled, "\(counts.values.filter { $0 != 2 }.count) of \(all.count) chunks not on exactly two nodes")
            // The second copy is named in the manifest: with the first copy's node down, reads still work.
            await cluster.dataNodes[0].stop(SIGKILL, withinSeconds: 5)
            try await cluster.expectEveryObjectReadsBack(files, "with a node down")
        }
    }

    /// The repair's `done` count in the api's metrics.
    static func repairedCopies(_ cluster: Cluster) async throws -> Int {
        let metrics = try await curl(["--max-time", "5", "\(cluster.base)/metrics"], scratch: cluster.scratch.tmp).text
        let done = metrics.split(separator: "\n").first { $0.hasPrefix("flare_api_repair_copies_total{result=\"done\"}") }
        return Int(done.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } } ?? 0)
    }

    @Test("kill -9 the api in the middle of a repair: after a restart the repair finishes, every chunk on exactly 2 of the 3 survivors, nothing lost, no copy left behind",
          arguments: testedEngines)
    func apiKilledMidRepair(engine: IOEngineKind) async throws {
        try await withCluster(engine, "repair-crash", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2", "--repair-after", "1",
                                                                   "--node-down-after", "1", "--repair-concurrency", "1", "--deletion-grace", "0"],
                              dataNodeCount: 4) { cluster in
            var files: [String: String] = [:]
            for index in 0..<40 {
                files["c/\(index)"] = try await cluster.randomFile("c-\(index)", size: 8 * 65536 - index)
                #expect(try await cluster.put("c/\(index)", file: files["c/\(index)"]!).status == 201)
            }
            let before = try await cluster.chunksPerNode()
            let all = before.reduce(into: Set<String>()) { $0.formUnion($1) }
            #expect(all.count == 320)
            let lost = before[0].count
            await cluster.dataNodes[0].stop(SIGKILL, withinSeconds: 5)
            try FileManager.default.removeItem(atPath: "\(cluster.scratch.path)/datanode-1")
            let started = try await cluster.poll(seconds: 30) { try await Self.repairedCopies(cluster) >= 5 }
            await cluster.api.stop(SIGKILL, withinSeconds: 5)
            #expect(started, "the repair did not start")
            let atKill = try await cluster.chunksPerNode()
            let copiedBeforeKill = all.filter { chunk in atKill.dropFirst().filter { $0.contains(chunk) }.count == 2 }.count
            #expect(copiedBeforeKill < all.count, "the repair had finished before the kill: the test did not exercise a crash mid-repair")
            try await cluster.startAPI()
            // Every chunk on exactly two survivors: none missing, no leftover third copy.
            var counts: [String: Int] = [:]
            let settled = try await cluster.poll(seconds: 60) {
                counts = try await cluster.copiesPerChunk()  // the killed node 1 lists nothing
                return Set(counts.keys) == all && counts.values.allSatisfy { $0 == 2 }
            }
            #expect(settled, "after the restart: \(all.subtracting(counts.keys).count) chunks missing, \(counts.values.filter { $0 < 2 }.count) with one copy, \(counts.values.filter { $0 > 2 }.count) with three (of \(all.count); \(lost) copies were lost)")
            try await cluster.expectEveryObjectReadsBack(files, "after the repair")
        }
    }
}
