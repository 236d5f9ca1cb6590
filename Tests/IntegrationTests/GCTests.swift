import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// Garbage collection of orphan chunks: copies nothing refers to go once older than
/// `--gc-grace`; copies of committed objects and of uploads in flight never do.
@Suite("Garbage collection")
struct GCTests {
    /// Stores `file` as chunk `id` directly on `node`, as a crash between a chunk's write and
    /// its record would leave it.
    static func plant(_ id: String, from file: String, on node: ServerProcess, _ cluster: Cluster) async throws {
        let put = try await cluster.dataNodeRequest("PUT", node, "/chunk/\(id)", upload: file,
                                                    extra: ["-H", "X-Flare-Checksum: \(CRC32C.headerValue(try fileCRC32C(file)))"])
        #expect(put.status == 201, "planting \(id) on \(node.name): \(put)")
    }

    /// A counter or gauge of the api's `/metrics` (0 when not there yet).
    static func metric(_ name: String, _ cluster: Cluster) async throws -> Double {
        let text = try await curl(["\(cluster.base)/metrics"], scratch: cluster.scratch.tmp).text
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } } ?? 0
    }

    /// Waits until the api has finished `count` more garbage collection passes.
    static func waitForPasses(_ count: Int, _ cluster: Cluster, seconds: Double = 30) async throws -> Bool {
        let start = try await metric("flare_api_gc_passes_total", cluster)
        return try await cluster.poll(seconds: seconds) {
            try await metric("flare_api_gc_passes_total", cluster) >= start + Double(count)
        }
    }

    /// Each data node's id, from its `/health`, by index.
    static func nodeIDs(_ cluster: Cluster) async throws -> [String] {
        var ids: [String] = []
        for node in cluster.dataNodes {
            let health = try await curl(["\(node.base)/health"], scratch: cluster.scratch.tmp)
            ids.append(try #require(health.json?["id"] as? String, "\(node.name) /health: \(health)"))
        }
        return ids
    }

    /// Every copy the manifests of `keys` name, as `chunk@nodeIndex`.
    static func namedCopies(_ keys: some Sequence<String>, _ cluster: Cluster) async throws -> Set<String> {
        let ids = try await nodeIDs(cluster)
        var named: Set<String> = []
        for key in keys {
            for chunk in try await cluster.manifestChunks(key) {
                for replica in chunk.replicas {
                    let index = try #require(ids.firstIndex(of: replica), "\(key): replica \(replica) is no node's id")
                    named.insert("\(chunk.id)@\(index)")
                }
            }
        }
        return named
    }

    /// Every copy on the data nodes' disks, as `chunk@nodeIndex`.
    static func copiesOnDisk(_ cluster: Cluster) throws -> Set<String> {
        var copies: Set<String> = []
        for index in cluster.dataNodes.indices {
            for chunk in try cluster.chunksOnDisk(index) { copies.insert("\(chunk)@\(index)") }
        }
        return copies
    }

    static let graceSeconds = 10.0

    @Test("orphans planted on every node — new ids and a live chunk's id on a node its manifest does not name — survive while young, then go after --gc-grace; every object's copies stay and read back",
          arguments: testedEngines)
    func plantedOrphansGo(engine: IOEngineKind) async throws {
        try await withCluster(engine, "gc", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2",
                                                         "--gc-grace", "\(Int(Self.graceSeconds))", "--gc-interval", "1"]) { cluster in
            var files: [String: String] = [:]
            for (index, size) in [0, 1, 65536, 3 * 65536 + 17, 7 * 65536].enumerated() {
                files["g/\(index)"] = try await cluster.randomFile("g-\(index)", size: size)
                #expect(try await cluster.put("g/\(index)", file: files["g/\(index)"]!).status == 201)
            }
            let named = try await Self.namedCopies(files.keys, cluster)
            let planted = Date()
            var orphans: Set<String> = []
            for (index, node) in cluster.dataNodes.enumerated() {
                for number in 0..<3 {
                    let id = "\(ChunkID.random())"
                    try await Self.plant(id, from: try await cluster.randomFile("orphan-\(index)-\(number)", size: 1000 + number * 70000), on: node, cluster)
                    orphans.insert("\(id)@\(index)")
                }
            }
            // A live chunk's bytes under its own id on the node its manifest does not name: a
            // copy of a failed attempt the node acknowledged late. An orphan too.
            let chunk = try #require(try await cluster.manifestChunks("g/3").first)
            let ids = try await Self.nodeIDs(cluster)
            let stranger = try #require(ids.indices.first { !chunk.replicas.contains(ids[$0]) })
            let holder = try #require(ids.firstIndex(of: chunk.replicas[0]))
            let bytes = "\(cluster.scratch.files)/live-chunk"
            #expect(try await cluster.dataNodeRequest("GET", cluster.dataNodes[holder], "/chunk/\(chunk.id)", bodyTo: bytes).status == 200)
            try await Self.plant(chunk.id, from: bytes, on: cluster.dataNodes[stranger], cluster)
            orphans.insert("\(chunk.id)@\(stranger)")

            // Two passes more: the second began after the last orphan was planted.
            #expect(try await Self.waitForPasses(2, cluster))
            let young = Date().timeIntervalSince(planted)
            try #require(young < Self.graceSeconds - 0.5, "the passes took \(young) s, past the grace: nothing shown about young orphans")
            let deletedYoung = orphans.subtracting(try Self.copiesOnDisk(cluster))
            #expect(deletedYoung.isEmpty, "young orphans deleted: \(deletedYoung)")

            var left: Set<String> = []
            let gone = try await cluster.poll(seconds: Self.graceSeconds + 30) {
                left = orphans.intersection(try Self.copiesOnDisk(cluster))
                return left.isEmpty
            }
            #expect(gone, "orphans left after the grace: \(left)")
            let onDisk = try Self.copiesOnDisk(cluster)
            let missing = named.subtracting(onDisk), unexpected = onDisk.subtracting(named)
            #expect(missing.isEmpty, "named copies deleted: \(missing)")
            #expect(unexpected.isEmpty, "copies neither named nor planted: \(unexpected)")
            try await cluster.expectEveryObjectReadsBack(files, "after garbage collection")
            #expect(try await Self.metric("flare_api_gc_deleted_chunks_total", cluster) == Double(orphans.count))
            #expect(cluster.api.currentLog().contains("gc: deleted"), "no notice of the deletions in the api's log")
        }
    }

    /// Writers, each over its own few keys: PUTs of multi-chunk objects, overwrites, deletes —
    /// at least `roundsMin` rounds each, then until `passesDuringMin` collection passes have
    /// run during the load (a pass lists every node, which under load takes a while), at most
    /// `roundsMax`.
    static let writers = 6
    static let keysPerWriter = 3
    static let roundsMin = 8
    static let roundsMax = 60
    static let passesDuringMin = 5.0

    @Test("with --gc-grace 0 and passes back to back, concurrent PUTs, overwrites and deletes: every surviving object reads back, every copy a manifest names is on disk, and the orphans go",
          arguments: testedEngines)
    func neverDeletesLiveChunks(engine: IOEngineKind) async throws {
        try await withCluster(engine, "gc-load", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2", "--gc-grace", "0",
                                                              "--gc-interval", "0.1", "--deletion-grace", "1"]) { cluster in
            // Orphans to collect while the load runs, so the passes have deletions to make.
            var orphans: Set<String> = []
            for (index, node) in cluster.dataNodes.enumerated() {
                let id = "\(ChunkID.random())"
                try await Self.plant(id, from: try await cluster.randomFile("orphan-\(index)", size: 4096), on: node, cluster)
                orphans.insert("\(id)@\(index)")
            }
            let passesBefore = try await Self.metric("flare_api_gc_passes_total", cluster)
            let expected = try await withThrowingTaskGroup(of: [String: String?].self) { group in
                for writer in 0..<Self.writers {
                    group.addTask {
                        var generator = SeededGenerator(seed: UInt64(writer + 1))
                        var state: [String: String?] = [:]
                        for round in 0..<Self.roundsMax {
                            if round >= Self.roundsMin,
                               try await Self.metric("flare_api_gc_passes_total", cluster) - passesBefore >= Self.passesDuringMin { break }
                            let key = "load/\(writer)/\(Int.random(in: 0..<Self.keysPerWriter, using: &generator))"
                            if round % 4 == 3 {
                                let delete = try await cluster.delete(key)
                                #expect(delete.status == 204 || delete.status == 404, "DELETE \(key): \(delete)")
                                state[key] = .some(nil)
                                continue
                            }
                            let size = Int.random(in: 1...(6 * 65536 + 100), using: &generator)
                            let file = try await cluster.randomFile("w\(writer)-\(round)", size: size)
                            let put = try await cluster.put(key, file: file)
                            #expect(put.status == 201, "PUT \(key) round \(round): \(put)")
                            state[key] = file
                        }
                        return state
                    }
                }
                var all: [String: String?] = [:]
                for try await state in group { all.merge(state) { $1 } }
                return all
            }
            let passesDuring = try await Self.metric("flare_api_gc_passes_total", cluster) - passesBefore
            #expect(passesDuring >= Self.passesDuringMin, "only \(passesDuring) garbage collection passes ran during the load")
            // A few passes more: a wrong deletion made late would show now.
            #expect(try await Self.waitForPasses(5, cluster))
            let surviving = expected.compactMapValues { $0 }
            let deleted = expected.filter { $0.value == nil }.map(\.key)
            #expect(!surviving.isEmpty && !deleted.isEmpty, "the load should leave both: \(surviving.count) surviving, \(deleted.count) deleted")
            // Before any read: a copy collected wrongly would be found missing by a read (even
            // of an object overwritten since) and then repaired, hiding it from the checks below.
            let named = try await Self.namedCopies(surviving.keys, cluster)
            let missing = named.subtracting(try Self.copiesOnDisk(cluster))
            #expect(missing.isEmpty, "\(missing.count) of \(named.count) copies named by manifests missing from disk: \(missing.sorted().prefix(10))")
            try await cluster.expectEveryObjectReadsBack(surviving, "after the load under garbage collection")
            let metrics = try await curl(["\(cluster.base)/metrics"], scratch: cluster.scratch.tmp).text
            #expect(!metrics.contains("flare_api_bad_replicas_total{"), "reads found missing or bad copies:\n\(metrics.split(separator: "\n").filter { $0.contains("bad_replicas") }.joined(separator: "\n"))")
            #expect(!metrics.contains("flare_api_repair_reason_copies_total{reason=\"bad\"}"), "copies had to be made again after a read found them bad")
            for key in deleted {
                #expect(try await cluster.get(key).status == 404, "\(key) was deleted last")
            }
            // And what nothing names goes: the planted orphans, replaced and deleted objects'
            // copies (after --deletion-grace, by the deletion worker or by the collection).
            var extra: Set<String> = []
            let converged = try await cluster.poll(seconds: 30) {
                extra = try Self.copiesOnDisk(cluster).subtracting(named)
                return extra.isEmpty
            }
            #expect(converged, "copies no manifest names still on disk: \(extra.sorted().prefix(10))")
            #expect(try await Self.metric("flare_api_gc_deleted_chunks_total", cluster) >= Double(orphans.count))
            try await cluster.expectEveryObjectReadsBack(surviving, "after the collection settled")
        }
    }
}
