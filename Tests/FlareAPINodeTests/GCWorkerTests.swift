@testable import FlareAPINode
import FlareCluster
import FlareCore
import FlareIO
import FlareMetrics
import Logging
import Synchronization
import Testing

/// Data nodes' chunks in memory: every id is listed whatever age is asked (these tests are
/// about references; the age is the data node's, tested with real processes), deletes remove.
final class MemoryInventory: ChunkInventory, @unchecked Sendable {
    let chunks: Mutex<[String: Set<ChunkID>]>
    let listings = Mutex<[String]>([])

    init(_ chunks: [String: Set<ChunkID>]) { self.chunks = Mutex(chunks) }

    func chunkIDs(olderThanSeconds seconds: Int, on node: String) async throws(ChunkInventoryError) -> [ChunkID] {
        listings.withLock { $0.append(node) }
        return chunks.withLock { ($0[node] ?? []).sorted() }
    }

    func delete(_ id: ChunkID, on node: String) async -> Bool {
        chunks.withLock { _ = $0[node]?.remove(id) }
        return true
    }

    func on(_ node: String) -> Set<ChunkID> { chunks.withLock { $0[node] ?? [] } }
}

@Suite("GCWorker: orphan copies go, referenced ones stay, also when a reference appears after the listing")
struct GCWorkerTests {
    /// Runs `body` on a loop with a worker over nodes `a` and `b` (both up), `inventory` and `store`.
    static func withWorker(_ inventory: MemoryInventory, _ store: MemoryMetadataStore,
                           _ body: @escaping @Sendable (GCWorker, ChunkLocks, NodeDirectory, NodeMetrics, EventLoop) async throws -> Void) async throws {
        let loop = try EventLoop.start(engine: .epoll, name: "gc-test")
        defer { loop.shutdown() }
        let address = try SocketAddress(host: "127.0.0.1", port: 9)
        let directory = NodeDirectory.of(["a": address, "b": address])
        try await loop.run {
            let locks = ChunkLocks(loop: loop)
            let metrics = NodeMetrics()
            let worker = GCWorker(loop: loop, inventory: inventory, directory: directory, metadata: store, locks: locks,
                                  metrics: metrics, graceSeconds: 0, intervalSeconds: 3600, logger: Logger(label: "gc-test"))
            try await body(worker, locks, directory, metrics, loop)
        }
    }

    /// Commits a one-chunk object holding `chunk` on `replicas`, reserved first as an upload does.
    static func commit(_ key: String, _ chunk: ChunkID, on replicas: [String], _ store: MemoryMetadataStore) async throws {
        try await store.reserveChunkIDs([chunk])
        _ = try await store.commit(ObjectManifest(key: key, size: 10, chunkSize: 65536, crc32c: 0, createdNanoseconds: 1,
                                                  chunks: [ChunkRecord(index: 0, id: chunk, length: 10, crc32c: 0, replicas: replicas)]))
    }

    @Test("a named copy, a reserved id and a queued deletion stay; orphans go, also a copy a manifest names on another node only")
    func orphansGo() async throws {
        let named = ChunkID.random(), reserved = ChunkID.random(), queued = ChunkID.random()
        let orphanA = ChunkID.random(), orphanB = ChunkID.random()
        let store = MemoryMetadataStore()
        try await Self.commit("k", named, on: ["a"], store)
        try await store.reserveChunkIDs([reserved])
        try await store.enqueueDeletions([(queued, "a")])
        let inventory = MemoryInventory(["a": [named, reserved, queued, orphanA], "b": [named, reserved, orphanB]])
        try await Self.withWorker(inventory, store) { worker, _, _, metrics, _ in
            let passes = await worker.runPass()
            #expect(inventory.on("a") == [named, reserved, queued])
            #expect(inventory.on("b") == [reserved], "b's copy of a chunk named on a only is an orphan")
            #expect(passes["a"] == GCWorker.NodePass(orphans: 1, deleted: 1))
            #expect(passes["b"] == GCWorker.NodePass(orphans: 2, deleted: 2))
            #expect(metrics.value("flare_api_gc_deleted_chunks_total") == 3)
            #expect(metrics.value("flare_api_gc_passes_total") == 1)
            #expect(metrics.value("flare_api_gc_last_pass_orphans") == 3)
            let again = await worker.runPass()
            #expect(again["a"] == GCWorker.NodePass() && again["b"] == GCWorker.NodePass())
            #expect(metrics.value("flare_api_gc_last_pass_orphans") == 0)
        }
    }

    @Test("a copy found unreferenced, then named by a manifest while the worker waits for the chunk's lock (a repair finishing), is left")
    func recheckUnderLock() async throws {
        let chunk = ChunkID.random()
        let store = MemoryMetadataStore()
        let inventory = MemoryInventory(["a": [chunk]])
        try await Self.withWorker(inventory, store) { worker, locks, _, _, loop in
            let running = await locks.withLock(chunk) { () async -> Task<[String: GCWorker.NodePass], Error> in
                let pass = loop.spawn { await worker.runPass() }
                var spins = 0
                while locks.waiterCount(chunk) == 0 && spins < 100_000 {
                    await Task.yield()
                    spins += 1
                }
                #expect(locks.waiterCount(chunk) == 1, "the worker never waited for the lock")
                do {
                    try await Self.commit("repaired", chunk, on: ["a"], store)
                } catch {
                    Issue.record(error, "commit while holding the lock")
                }
                return pass
            }
            let pass = try await running.value
            #expect(inventory.on("a") == [chunk])
            #expect(pass["a"] == GCWorker.NodePass(orphans: 1, deleted: 0, referencedSince: 1))
        }
    }

    @Test("a node that is not up is not listed that pass")
    func skipsNodesNotUp() async throws {
        let orphan = ChunkID.random()
        let inventory = MemoryInventory(["a": [orphan], "b": [orphan]])
        try await Self.withWorker(inventory, MemoryMetadataStore()) { worker, _, directory, _, _ in
            _ = directory.record(.probeFailed(NodeFailure(.timeout, "probe timed out")), node: "b")
            let passes = await worker.runPass()
            #expect(inventory.listings.withLock { $0 } == ["a"])
            #expect(passes.keys.sorted() == ["a"])
            #expect(inventory.on("a").isEmpty && inventory.on("b") == [orphan])
        }
    }

    @Test("at most deletionsPerNodeMax orphans go per node and pass; the rest the next pass")
    func boundedPerPass() async throws {
        let orphans = Set((0..<(GCWorker.deletionsPerNodeMax + 10)).map { _ in ChunkID.random() })
        let inventory = MemoryInventory(["a": orphans])
        try await Self.withWorker(inventory, MemoryMetadataStore()) { worker, _, _, _, _ in
            let first = await worker.runPass()
            #expect(first["a"]?.deleted == GCWorker.deletionsPerNodeMax && first["a"]?.orphans == orphans.count)
            #expect(inventory.on("a").count == 10)
            #expect(await worker.runPass()["a"]?.deleted == 10)
            #expect(inventory.on("a").isEmpty)
        }
    }

    @Test("the listing parser: ids cut across pieces, a last line without newline; other lines and too many ids are refused")
    func listingParser() throws {
        let ids = (0..<5).map { _ in ChunkID.random() }
        let text = Array(ids.map { "\($0)" }.joined(separator: "\n").utf8)
        for cut in [1, 7, 32, 33, 50, 100] {
            var parser = ChunkListParser(node: "a", idsMax: 10)
            var start = 0
            while start < text.count {
                let end = min(text.count, start + cut)
                try text[start..<end].withUnsafeBytes { try parser.feed($0) }
                start = end
            }
            try parser.finish()
            #expect(parser.ids == ids, "pieces of \(cut) bytes")
        }
        var bad = ChunkListParser(node: "a", idsMax: 10)
        #expect(throws: ChunkInventoryError.self) {
            try Array("\(ids[0]) 65536\n".utf8).withUnsafeBytes { try bad.feed($0) }
        }
        var many = ChunkListParser(node: "a", idsMax: 4)
        #expect(throws: ChunkInventoryError.self) {
            try text.withUnsafeBytes { try many.feed($0) }
            try many.finish()
        }
    }
}
