import FlareCore
import FlareMetadata
import FlareTestSupport
import Foundation
import Testing

/// What garbage collection asks before it deletes a chunk copy: every kind of reference
/// protects the copy it names, and nothing else does.
@Suite("Chunk references in the metadata store")
struct ChunkReferenceTests {
    typealias M = ManifestFixtures

    /// Asks both questions about every id in `chunks` on the node `names` name and expects
    /// exactly `unreferenced` to be free.
    static func expectFree(_ store: SQLiteMetadataStore, _ chunks: [ChunkID], on names: [String], _ unreferenced: [ChunkID],
                           _ what: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(try await store.unreferencedChunks(chunks, nodeNames: names) == unreferenced, "\(what) on \(names)",
                sourceLocation: sourceLocation)
        for chunk in chunks {
            let referenced = try await store.isCopyReferenced(chunk: chunk, nodeNames: names)
            #expect(referenced == !unreferenced.contains(chunk), "\(what): \(chunk) on \(names) referenced: \(referenced)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test("a reservation protects the id on every node; a manifest, a queued deletion and a repair protect their copy on that node only; an orphan is free")
    func eachKindProtects() async throws {
        try await withStore(graceSeconds: 3600) { store, _ async throws in
            let reserved = ChunkID.random()
            try await store.reserveChunkIDs([reserved])
            let manifest = M.manifest(key: "k", size: 2 * 65536, seed: 3, replicas: ["a", "b"])
            try await store.reserveChunkIDs(manifest.chunks.map(\.id))
            _ = try await store.commit(manifest)
            let queued = ChunkID.random()
            try await store.enqueueDeletions([(queued, "c")])
            let repairing = ChunkID.random()
            try await store.beginRepair(key: "k", chunk: repairing, node: "c")
            let orphan = ChunkID.random()
            let named = manifest.chunks.map(\.id)
            let all = [orphan, reserved, queued, repairing] + named
            try await Self.expectFree(store, all, on: ["a"], [orphan, queued, repairing], "a manifest's node")
            try await Self.expectFree(store, all, on: ["b"], [orphan, queued, repairing], "a manifest's other node")
            try await Self.expectFree(store, all, on: ["c"], [orphan] + named, "the queued and repaired copies' node")
            try await Self.expectFree(store, all, on: ["d"], [orphan, queued, repairing] + named, "a node nothing names")
            try await Self.expectFree(store, all, on: ["d", "c"], [orphan] + named, "a node by two names")
            #expect(try await store.unreferencedChunks([], nodeNames: ["a"]) == [])
        }
    }

    @Test("a manifest of a build before node ids names the node by address: the copy is protected when that address is one of the node's names")
    func addressNames() async throws {
        try await withStore { store, _ async throws in
            let manifest = M.manifest(key: "old", size: 65536, seed: 4, replicas: ["127.0.0.1:9001"])
            _ = try await store.commit(manifest)
            let chunk = manifest.chunks[0].id
            try await Self.expectFree(store, [chunk], on: ["0123456789abcdef0123456789abcdef", "127.0.0.1:9001"], [], "by id and address")
            try await Self.expectFree(store, [chunk], on: ["0123456789abcdef0123456789abcdef"], [chunk], "by id alone")
        }
    }

    @Test("through its life a copy stays referenced — reserved, committed, deleted with a grace — until its deletion finishes")
    func referenceMovesAtomically() async throws {
        try await withStore(graceSeconds: 0) { store, _ async throws in
            let manifest = M.manifest(key: "life", size: 65536 + 9, seed: 5, replicas: ["a"])
            let ids = manifest.chunks.map(\.id)
            try await store.reserveChunkIDs(ids)
            try await Self.expectFree(store, ids, on: ["a"], [], "reserved")
            _ = try await store.commit(manifest, strays: [(ids[0], "b")])
            try await Self.expectFree(store, ids, on: ["a"], [], "committed")
            try await Self.expectFree(store, ids, on: ["b"], [ids[1]], "a stray queued")
            _ = try await store.delete(key: "life")
            try await Self.expectFree(store, ids, on: ["a"], [], "deleted, deletion queued")
            try await store.finishDeletions(try await store.pendingDeletions(limit: 100).map(\.sequence))
            try await Self.expectFree(store, ids, on: ["a"], ids, "deletion finished")
            try await Self.expectFree(store, ids, on: ["b"], ids, "stray deleted")
            // Released ids: what the upload could not delete itself stays queued.
            let released = [ChunkID.random(), ChunkID.random()]
            try await store.reserveChunkIDs(released)
            try await store.releaseChunkIDs(released, leftovers: [(released[1], "a")])
            try await Self.expectFree(store, released, on: ["a"], [released[0]], "released, one leftover")
        }
    }

    @Test("a repair's copy: referenced while begun, then by the manifest when finished, or by the deletion queue when abandoned")
    func repairCopies() async throws {
        try await withStore(graceSeconds: 0) { store, _ async throws in
            let manifest = M.manifest(key: "r", size: 2 * 65536, seed: 6, replicas: ["a", "lost"])
            _ = try await store.commit(manifest)
            let (first, second) = (manifest.chunks[0].id, manifest.chunks[1].id)
            try await store.beginRepair(key: "r", chunk: first, node: "c")
            try await store.beginRepair(key: "r", chunk: second, node: "c")
            try await Self.expectFree(store, [first, second], on: ["c"], [], "begun")
            #expect(try await store.finishRepair(ChunkRepair(key: "r", createdNanoseconds: manifest.createdNanoseconds, chunk: first,
                                                             lost: "lost", added: "c")))
            try await store.abandonRepair(chunk: second, node: "c")
            try await Self.expectFree(store, [first, second], on: ["c"], [], "finished and abandoned")
            try await store.finishDeletions(try await store.pendingDeletions(limit: 100).map(\.sequence))
            try await Self.expectFree(store, [first, second], on: ["c"], [second], "the abandoned copy deleted")
            try await Self.expectFree(store, [first, second], on: ["lost"], [first], "the lost copy deleted")
        }
    }

    @Test("while deletes and overwrites move a copy from its manifest to the deletion queue, no check in between finds it unreferenced")
    func checksDuringMoves() async throws {
        try await withStore(graceSeconds: 3600) { store, _ async throws in
            var misses: [String] = []
            for round in 0..<40 {
                let manifest = M.manifest(key: "m\(round)", size: 3 * 65536, seed: UInt64(100 + round), replicas: ["a"])
                _ = try await store.commit(manifest)
                let ids = manifest.chunks.map(\.id)
                // Even rounds delete the object, odd ones overwrite it: both queue its copies
                // in the transaction that drops them from the manifest.
                async let moved: ObjectManifest? = round % 2 == 0
                    ? store.delete(key: manifest.key)
                    : store.commit(M.manifest(key: manifest.key, size: 65536, seed: UInt64(900 + round), replicas: ["a"]))
                for _ in 0..<20 {
                    async let free = store.unreferencedChunks(ids, nodeNames: ["a"])
                    for id in ids where try await !store.isCopyReferenced(chunk: id, nodeNames: ["a"]) {
                        misses.append("round \(round): \(id) unreferenced by the single check")
                    }
                    if try await !free.isEmpty { misses.append("round \(round): \(try await free) unreferenced by the listing check") }
                }
                #expect(try await moved != nil)
            }
            #expect(misses.isEmpty, "\(misses.prefix(5))")
        }
    }
}
