import FlareCluster
import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Synchronization
import Testing

/// The cluster layout changing under a running cluster: a dead node replaced, a node drained
/// under load, the api killed mid-rebalance, and the admin API's refusals.
@Suite("Cluster layout: replace, rebalance, drain")
struct LayoutTests {
    /// PUTs `count` objects of seeded random sizes up to `chunksMax` 64 KiB chunks (sizes
    /// around chunk boundaries among them); returns key → file.
    static func putObjects(_ cluster: Cluster, _ count: Int, prefix: String, chunksMax: Int = 4, seed: UInt64 = 1) async throws -> [String: String] {
        var generator = SeededGenerator(seed: seed)
        let awkward = [0, 1, 65535, 65536, 65537]
        var files: [String: String] = [:]
        for index in 0..<count {
            let size = index < awkward.count ? awkward[index] : Int.random(in: 0...(chunksMax * 65536), using: &generator)
            let key = "\(prefix)\(index)"
            files[key] = try await cluster.randomFile("\(prefix.replacingOccurrences(of: "/", with: "_"))\(index)", size: size)
            let put = try await cluster.put(key, file: files[key]!)
            try #require(put.status == 201, "PUT \(key): \(put)")
        }
        return files
    }

    /// The chunks whose copies are not exactly where the layout wants them (the top `replicas`
    /// of the active nodes, by the same placement the api uses), and the number of copies.
    static func misplaced(_ cluster: Cluster, replicas: Int = 2) async throws -> (misplaced: [String], copies: Int) {
        let nodes = try await cluster.layoutNodes().filter { $0["state"] as? String == "active" }
        let placement = try ReplicaPlacement(nodes: nodes.map {
            ClusterNode(id: $0["id"] as! String, zone: $0["zone"] as! String, weight: $0["weight"] as! Int)
        })
        var misplaced: [String] = [], copies = 0
        for (_, chunks) in try await cluster.allManifestChunks() {
            for chunk in chunks {
                copies += chunk.replicas.count
                if Set(chunk.replicas) != Set(placement.choose(ChunkID(chunk.id)!, replicas: replicas)) { misplaced.append(chunk.id) }
            }
        }
        return (misplaced, copies)
    }

    static func metric(_ cluster: Cluster, _ line: String) async throws -> Double {
        let text = try await curl(["\(cluster.base)/metrics"], scratch: cluster.scratch.tmp).text
        return text.split(separator: "\n").first { $0.hasPrefix(line + " ") }.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } } ?? 0
    }

    /// GETs objects of `files` round and round until `stop`, checking each; returns how many
    /// were read and every failure.
    static func readWhile(_ cluster: Cluster, _ files: [String: String], stop: StopFlag) async throws -> (reads: Int, failures: [String]) {
        let keys = files.keys.sorted()
        var reads = 0, failures: [String] = []
        while !stop.isStopped && reads < 100_000 {
            let key = keys[reads % keys.count]
            let out = files[key]! + ".load"
            let get = try await cluster.get(key, to: out)
            if get.status != 200 || get.curlExit != 0 {
                failures.append("\(key): \(get)")
            } else if try await !sameBytes(files[key]!, out, scratch: cluster.scratch.tmp) {
                failures.append("\(key): wrong bytes")
            }
            reads += 1
        }
        return (reads, failures)
    }

    @Test("replicas 2 on 3 nodes, 200 objects: one killed and its directory deleted is repaired with GETs running and none failing, removed without --force, and a new node added takes the minimum",
          arguments: testedEngines)
    func deadNodeReplaced(engine: IOEngineKind) async throws {
        try await withCluster(engine, "replace", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2", "--repair-after", "2",
                                                              "--node-down-after", "1", "--deletion-grace", "1"],
                              dataNodeCount: 4, listedDataNodes: 3) { cluster in
            let files = try await Self.putObjects(cluster, 200, prefix: "o/")
            let dead = try await cluster.layoutNodes().first { $0["address"] as? String == cluster.dataNodes[0].address }!["id"] as! String
            await cluster.dataNodes[0].stop(SIGKILL, withinSeconds: 5)
            try FileManager.default.removeItem(atPath: "\(cluster.scratch.path)/datanode-1")
            let stop = StopFlag()
            async let load = Self.readWhile(cluster, files, stop: stop)
            let repaired = try await cluster.poll(seconds: 60) {
                try await cluster.allManifestChunks().values.allSatisfy { chunks in
                    chunks.allSatisfy { $0.replicas.count == 2 && !$0.replicas.contains(dead) }
                }
            }
            stop.stop()
            let during = try await load
            #expect(repaired, "the dead node's copies were not all made again")
            #expect(during.failures.isEmpty, "\(during.failures.count) of \(during.reads) GETs failed during the repair: \(during.failures.prefix(3))")
            #expect(during.reads > 0)
            try await cluster.expectEveryObjectReadsBack(files, "after the repair")

            // The manifests name nothing on it any more: a plain remove is allowed.
            let removed = try await cluster.admin("POST", "nodes/\(dead)/remove")
            #expect(removed.status == 200 && removed.json?["state"] as? String == "removed", "\(removed)")

            let movedBefore = try await Self.metric(cluster, "flare_api_repair_reason_copies_total{reason=\"misplaced\"}")
            let added = try await cluster.admin("POST", "nodes?address=\(cluster.dataNodes[3].address)")
            #expect(added.status == 201, "\(added)")
            var left: (misplaced: [String], copies: Int) = ([], 0)
            let balanced = try await cluster.poll(seconds: 60) {
                left = try await Self.misplaced(cluster)
                return left.misplaced.isEmpty
            }
            #expect(balanced, "\(left.misplaced.count) chunks not on their top 2 after adding a node")
            let moved = try await Self.metric(cluster, "flare_api_repair_reason_copies_total{reason=\"misplaced\"}") - movedBefore
            // 2 → 3 equal nodes: the new one's share, a third of the copies, is the minimum.
            let ideal = Double(left.copies) / 3
            #expect(moved >= ideal * 0.75 && moved <= ideal * 1.25, "moved \(moved) copies, ideal \(ideal) of \(left.copies)")
            try await cluster.expectEveryObjectReadsBack(files, "after the rebalance")
        }
    }

    @Test("a node drained while clients PUT and GET: new chunks never go to it, it ends with no copies, objects intact, then it is removed and emptied",
          arguments: testedEngines)
    func drainUnderLoad(engine: IOEngineKind) async throws {
        try await withCluster(engine, "drain", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2", "--deletion-grace", "1"],
                              dataNodeCount: 4) { cluster in
            let stored = try await Self.putObjects(cluster, 40, prefix: "d/")
            let drained = try await cluster.layoutNodes().first { $0["address"] as? String == cluster.dataNodes[3].address }!
            let id = drained["id"] as! String
            try #require((drained["copies"] as! Int) > 0)
            let removeEarly = try await cluster.admin("POST", "nodes/\(id)/remove")
            #expect(removeEarly.status == 409, "an active node holding copies was removed: \(removeEarly)")
            let drain = try await cluster.admin("POST", "nodes/\(id)/drain")
            #expect(drain.status == 200 && drain.json?["state"] as? String == "draining", "\(drain)")
            let stop = StopFlag()
            async let load = Self.readWhile(cluster, stored, stop: stop)
            // PUTs meanwhile.
            let during = try await Self.putObjects(cluster, 20, prefix: "new/", seed: 2)
            var copies = -1
            let emptied = try await cluster.poll(seconds: 60) {
                copies = try await cluster.layoutNodes().first { $0["id"] as? String == id }!["copies"] as! Int
                return copies == 0
            }
            stop.stop()
            let reads = try await load
            #expect(emptied, "the draining node still holds \(copies) copies")
            #expect(reads.failures.isEmpty, "\(reads.failures.count) of \(reads.reads) GETs failed during the drain: \(reads.failures.prefix(3))")
            let manifests = try await cluster.allManifestChunks()
            for key in during.keys {
                #expect(!(manifests[key] ?? []).contains { $0.replicas.contains(id) }, "\(key), PUT while draining, has a copy on the draining node")
            }
            let files = stored.merging(during) { first, _ in first }
            // Copies moved off it are deleted after the grace; until then a remove is refused,
            // and then the node says it is drained.
            var entry: [String: Any] = [:]
            let drainedNow = try await cluster.poll(seconds: 30) {
                entry = try await cluster.layoutNodes().first { $0["id"] as? String == id }!
                if entry["drained"] as? Bool != true {
                    let early = try await cluster.admin("POST", "nodes/\(id)/remove")
                    #expect(early.status == 409 || early.status == 200, "\(early)")
                    return early.status == 200
                }
                return true
            }
            #expect(drainedNow, "never drained: \(entry)")
            let remove = try await cluster.admin("POST", "nodes/\(id)/remove")
            #expect(remove.status == 200 && remove.json?["state"] as? String == "removed", "\(remove)")
            let gone = try await cluster.poll(seconds: 5) { try cluster.chunksOnDisk(3).isEmpty }
            let leftOnRemoved = try cluster.chunksOnDisk(3).count
            #expect(gone, "the removed node still holds \(leftOnRemoved) chunk files")
            try await cluster.expectEveryObjectReadsBack(files, "after the drain")
        }
    }

    @Test("the api killed -9 mid-rebalance: restarted, the rebalance finishes, every chunk on its top 2, nothing lost, no copy left behind",
          arguments: testedEngines)
    func apiKilledMidRebalance(engine: IOEngineKind) async throws {
        let options = ["--chunk-size", "64KiB", "--replicas", "2", "--deletion-grace", "0"]
        try await withCluster(engine, "rebalance-kill", apiOptions: options + ["--repair-bandwidth", "384KiB"],
                              dataNodeCount: 4, listedDataNodes: 3) { cluster in
            let files = try await Self.putObjects(cluster, 60, prefix: "k/", chunksMax: 6)
            let added = try await cluster.admin("POST", "nodes?address=\(cluster.dataNodes[3].address)")
            #expect(added.status == 201, "\(added)")
            var report: [String: Any] = [:]
            let underway = try await cluster.poll(seconds: 30) {
                report = try await cluster.admin("GET", "repair").json ?? [:]
                let pass = report["pass"] as? [String: Any]
                return report["state"] as? String == "copying" && (pass?["chunks_done"] as? Int ?? 0) >= 2
            }
            try #require(underway, "no rebalance under way: \(report)")
            let pass = report["pass"] as! [String: Any]
            #expect((pass["misplaced"] as! Int) > 0 && (pass["chunks_total"] as! Int) > (pass["chunks_done"] as! Int), "\(pass)")
            await cluster.api.stop(SIGKILL, withinSeconds: 5)
            try await cluster.startAPI(options: options + ["--repair-bandwidth", "0"])
            var left: (misplaced: [String], copies: Int) = ([], 0)
            let balanced = try await cluster.poll(seconds: 60) {
                left = try await Self.misplaced(cluster)
                return left.misplaced.isEmpty
            }
            #expect(balanced, "\(left.misplaced.count) chunks not on their top 2 after the restart")
            try await cluster.expectEveryObjectReadsBack(files, "after the rebalance")
            // Every copy on disk is one a manifest names, and every one named is there.
            let manifests = try await cluster.allManifestChunks()
            let ids = try await cluster.layoutNodes().reduce(into: [String: String]()) { $0[$1["address"] as! String] = ($1["id"] as! String) }
            var settled = false
            var report2 = ""
            for _ in 0..<100 where !settled {
                settled = true
                report2 = ""
                for (index, node) in cluster.dataNodes.enumerated() {
                    let id = ids[node.address]!
                    let named = Set(manifests.values.flatMap { $0 }.filter { $0.replicas.contains(id) }.map(\.id))
                    let onDisk = try cluster.chunksOnDisk(index)
                    if onDisk != named {
                        settled = false
                        report2 += "node \(index + 1): \(onDisk.subtracting(named).count) left behind, \(named.subtracting(onDisk).count) missing; "
                    }
                }
                if !settled { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(settled, "\(report2)")
        }
    }

    @Test("the admin API refuses clearly: unknown ids, bad addresses, nothing answering, a zone that is not the node's, too few active nodes, wrong methods",
          arguments: testedEngines)
    func adminRefusals(engine: IOEngineKind) async throws {
        try await withCluster(engine, "admin", apiOptions: ["--replicas", "2"], dataNodeCount: 3, listedDataNodes: 2) { cluster in
            let version = try await cluster.admin("GET", "nodes").json?["version"] as? Int ?? -1
            let unknown = try await cluster.admin("POST", "nodes/\(String(repeating: "f", count: 32))/drain")
            #expect(unknown.status == 404 && unknown.text.contains("no data node with id"), "\(unknown)")
            let bad = try await cluster.admin("POST", "nodes?address=nonsense")
            #expect(bad.status == 400, "\(bad)")
            let missing = try await cluster.admin("POST", "nodes")
            #expect(missing.status == 400, "\(missing)")
            let silent = try await cluster.admin("POST", "nodes?address=127.0.0.1:1")
            #expect(silent.status == 502 && silent.text.contains("no data node answers"), "\(silent)")
            let zone = try await cluster.admin("POST", "nodes?address=\(cluster.dataNodes[2].address)&zone=elsewhere")
            #expect(zone.status == 409 && zone.text.contains("zone"), "\(zone)")
            let twice = try await cluster.admin("POST", "nodes?address=\(cluster.dataNodes[0].address)")
            #expect(twice.status == 409, "\(twice)")
            let first = try await cluster.layoutNodes()[0]["id"] as! String
            let drain = try await cluster.admin("POST", "nodes/\(first)/drain")
            #expect(drain.status == 409 && drain.text.contains("fewer than --replicas"), "two active nodes, replicas 2: \(drain)")
            let method = try await cluster.admin("DELETE", "nodes")
            #expect(method.status == 405, "\(method)")
            let action = try await cluster.admin("POST", "nodes/\(first)/explode")
            #expect(action.status == 404, "\(action)")
            let weight = try await cluster.admin("POST", "nodes/\(first)/weight?value=0")
            #expect(weight.status == 400, "\(weight)")
            #expect(try await cluster.admin("GET", "nodes").json?["version"] as? Int == version, "a refused change raised the version")
            let add = try await cluster.admin("POST", "nodes?address=\(cluster.dataNodes[2].address)")
            #expect(add.status == 201 && add.json?["state"] as? String == "active", "\(add)")
            let reweigh = try await cluster.admin("POST", "nodes/\(first)/weight?value=3")
            #expect(reweigh.status == 200 && reweigh.json?["weight"] as? Int == 3, "\(reweigh)")
            #expect(try await cluster.admin("GET", "nodes").json?["version"] as? Int == version + 2)
            let repair = try await cluster.admin("GET", "repair")
            #expect(repair.status == 200 && repair.json?["replicas"] as? Int == 2, "\(repair)")
        }
    }
}

/// Tells a background load to end.
final class StopFlag: Sendable {
    private let stopped = Mutex(false)
    var isStopped: Bool { stopped.withLock { $0 } }
    func stop() { stopped.withLock { $0 = true } }
}
