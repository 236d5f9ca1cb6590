import FlareCore
@testable import FlareMetadata
import FlareTestSupport
import Foundation
import Testing

/// A repair's copy is recorded before it is sent and enters a manifest only by compare-and-set:
/// an object overwritten or deleted meanwhile is not resurrected, and a crash leaks nothing.
@Suite("Chunk repairs in the metadata store")
struct ChunkRepairTests {
    typealias M = ManifestFixtures

    @Test("a repair of the object as it still is: the new node replaces the lost one; the lost copy is queued")
    func repairs() async throws {
        try await withStore(graceSeconds: 0) { store, _ async throws in
            let manifest = M.manifest(key: "k", size: 3 * 65536, seed: 2, replicas: ["a", "lost"])
            _ = try await store.commit(manifest)
            let chunk = manifest.chunks[1]
            try await store.beginRepair(key: "k", chunk: chunk.id, node: "c")
            let repair = ChunkRepair(key: "k", createdNanoseconds: manifest.createdNanoseconds, chunk: chunk.id, lost: "lost", added: "c")
            #expect(try await store.finishRepair(repair))
            let after = try #require(try await store.manifest(for: "k"))
            #expect(after.chunks[1].replicas == ["a", "c"])
            #expect(after.chunks[0].replicas == ["a", "lost"] && after.chunks[2].replicas == ["a", "lost"], "other chunks untouched")
            #expect(copies(try await store.pendingDeletions(limit: 10)) == ["\(chunk.id)@lost"])
            // The same repair again: the manifest already names the copy, so it is live and
            // stays unqueued; the manifest stays.
            #expect(try await !store.finishRepair(repair))
            #expect(try await store.manifest(for: "k")?.chunks[1].replicas == ["a", "c"])
            #expect(copies(try await store.pendingDeletions(limit: 10)) == ["\(chunk.id)@lost"])
            // A repair onto another node of a chunk whose lost copy is already replaced: that
            // new copy is nobody's and goes.
            let late = ChunkRepair(key: "k", createdNanoseconds: manifest.createdNanoseconds, chunk: chunk.id, lost: "lost", added: "d")
            #expect(try await !store.finishRepair(late))
            #expect(copies(try await store.pendingDeletions(limit: 10)) == ["\(chunk.id)@lost", "\(chunk.id)@d"])
            // A lost copy on a node gone for good is not queued.
            let gone = ChunkRepair(key: "k", createdNanoseconds: manifest.createdNanoseconds, chunk: manifest.chunks[0].id,
                                   lost: "lost", added: "c", lostCopyReachable: false)
            #expect(try await store.finishRepair(gone))
            #expect(try await store.manifest(for: "k")?.chunks[0].replicas == ["a", "c"])
            #expect(copies(try await store.pendingDeletions(limit: 10)) == ["\(chunk.id)@lost", "\(chunk.id)@d"])
            #expect(try await store.reclaimRepairs() == 0, "finished repairs leave nothing to reclaim")
        }
    }

    @Test("a copy added to a chunk with fewer copies than configured joins it; a second one, for the count read before, goes")
    func addsCopy() async throws {
        try await withStore(graceSeconds: 0) { store, _ async throws in
            let manifest = M.manifest(key: "k", size: 65536, seed: 6, replicas: ["a"])
            _ = try await store.commit(manifest)
            let chunk = manifest.chunks[0].id
            var add = ChunkRepair(key: "k", createdNanoseconds: manifest.createdNanoseconds, chunk: chunk, lost: nil, added: "b")
            add.copiesBefore = 1
            #expect(try await store.finishRepair(add))
            #expect(try await store.manifest(for: "k")?.chunks[0].replicas == ["a", "b"])
            var other = add
            other.added = "c"
            #expect(try await !store.finishRepair(other), "the chunk has two copies now, not the one this repair read")
            #expect(try await store.manifest(for: "k")?.chunks[0].replicas == ["a", "b"])
            #expect(copies(try await store.pendingDeletions(limit: 10)) == ["\(chunk)@c"], "only the superfluous copy is queued")
        }
    }

    @Test("an object overwritten or deleted during the repair is not resurrected; the new copy is queued")
    func compareAndSet() async throws {
        try await withStore(graceSeconds: 0) { store, _ async throws in
            let old = M.manifest(key: "k", size: 65536, seed: 3, replicas: ["a", "lost"])
            _ = try await store.commit(old)
            var newer = M.manifest(key: "k", size: 65536, seed: 4, replicas: ["a", "b"])
            newer.createdNanoseconds += 1
            _ = try await store.commit(newer)
            let repair = ChunkRepair(key: "k", createdNanoseconds: old.createdNanoseconds, chunk: old.chunks[0].id, lost: "lost", added: "c")
            #expect(try await !store.finishRepair(repair))
            #expect(try await store.manifest(for: "k") == newer)
            #expect(copies(try await store.pendingDeletions(limit: 10)).contains("\(old.chunks[0].id)@c"))

            _ = try await store.delete(key: "k")
            let gone = ChunkRepair(key: "k", createdNanoseconds: newer.createdNanoseconds, chunk: newer.chunks[0].id, lost: "b", added: "c")
            #expect(try await !store.finishRepair(gone))
            #expect(try await store.manifest(for: "k") == nil, "a deleted object is not brought back")
        }
    }

    @Test("repairs a crashed process left: copies the manifest does not name are queued, one it names is kept")
    func reclaim() async throws {
        try await withStore(graceSeconds: 0) { store, path async throws in
            let manifest = M.manifest(key: "k", size: 2 * 65536, seed: 5, replicas: ["a", "b"])
            _ = try await store.commit(manifest)
            try await store.beginRepair(key: "k", chunk: manifest.chunks[0].id, node: "c")  // sent, never recorded
            try await store.beginRepair(key: "k", chunk: manifest.chunks[1].id, node: "b")  // a copy the manifest names
            try await store.beginRepair(key: "gone", chunk: ChunkID.random(), node: "c")   // of an object since deleted
            store.close()
            let reopened = try SQLiteMetadataStore(path: path, deletionGraceSeconds: 0)
            defer { reopened.close() }
            #expect(try await reopened.reclaimRepairs() == 3)
            let queued = copies(try await reopened.pendingDeletions(limit: 10))
            #expect(queued.contains("\(manifest.chunks[0].id)@c") && !queued.contains("\(manifest.chunks[1].id)@b") && queued.count == 2)
            #expect(try await reopened.reclaimRepairs() == 0)
        }
    }
}
