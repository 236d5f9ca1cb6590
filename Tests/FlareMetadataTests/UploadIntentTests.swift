import FlareCore
@testable import FlareMetadata
import FlareTestSupport
import Foundation
import Testing

@Suite("Reserved chunk ids: every copy an upload may leave is recorded before it is sent")
struct UploadIntentTests {
    typealias M = ManifestFixtures

    @Test("a commit ends its chunks' reservations and queues the upload's stray copies")
    func commitEndsReservations() async throws {
        try await withStore(graceSeconds: 3600) { store, _ async throws in
            let manifest = M.manifest(key: "k", size: 2 * 65536, seed: 5, replicas: ["n1:1"])
            try await store.reserveChunkIDs(manifest.chunks.map(\.id))
            let strays = manifest.chunks.map { (chunk: $0.id, node: "n2:2") }  // attempts that failed over
            _ = try await store.commit(manifest, strays: strays)
            #expect(copies(try await store.pendingDeletions(limit: 100)) == Set(manifest.chunks.map { "\($0.id)@n2:2" }))
            // Committed ids are no longer reserved: a later start must not delete them.
            #expect(try await store.reclaimReservations(onNodes: ["n1:1", "n2:2"]) == 0)
            #expect(try await store.pendingDeletions(limit: 100).count == manifest.chunks.count)
        }
    }

    @Test("released ids queue their leftovers; ids a crashed process held are queued on every node at the next start")
    func releaseAndCrash() async throws {
        try await withStore { store, path async throws in
            let a = ChunkID.random(), b = ChunkID.random(), c = ChunkID.random()
            try await store.reserveChunkIDs([a, b, c])
            try await store.releaseChunkIDs([a], leftovers: [(a, "n1:1")])
            #expect(copies(try await store.pendingDeletions(limit: 10)) == ["\(a)@n1:1"])
            // b and c belong to uploads in flight when the process dies: only the reservations remain.
            store.close()
            let reopened = try SQLiteMetadataStore(path: path, deletionGraceSeconds: 30)
            defer { reopened.close() }
            #expect(try await reopened.reclaimReservations(onNodes: ["n1:1", "n2:2"]) == 2)
            #expect(copies(try await reopened.pendingDeletions(limit: 10))
                    == ["\(a)@n1:1", "\(b)@n1:1", "\(b)@n2:2", "\(c)@n1:1", "\(c)@n2:2"])
            #expect(try await reopened.reclaimReservations(onNodes: ["n1:1", "n2:2"]) == 0)
        }
    }

    @Test("a file of the previous schema, with intents of a dead upload, opens and queues their copies")
    func migratesIntents() async throws {
        try await withStore { store, path async throws in
            store.close()
            try FileManager.default.removeItem(atPath: path)
            let stranded = ChunkID.random()
            let kept = M.manifest(key: "kept", size: 65536 + 1, seed: 9)
            do {  // schema version 2 as the previous build left it: per-copy intents
                let old = try SQLiteDatabase(path: path)
                for (index, migration) in SQLiteMetadataStore.migrations.prefix(2).enumerated() {
                    try old.execute("BEGIN IMMEDIATE; \(migration) PRAGMA user_version=\(index + 1); COMMIT;")
                }
                try old.execute("INSERT INTO intents(upload, chunk, node) VALUES ('u', '\(stranded)', 'n3:3')")
                try old.execute("INSERT INTO objects VALUES ('kept', \(kept.size), \(kept.chunkSize), \(kept.crc32c), \(kept.createdNanoseconds), '\(kept.encodeChunks())')")
            }
            let migrated = try SQLiteMetadataStore(path: path, deletionGraceSeconds: 30)
            defer { migrated.close() }
            #expect(copies(try await migrated.pendingDeletions(limit: 10)) == ["\(stranded)@n3:3"])
            var moved = kept
            moved.key = "flare/kept"  // objects from before buckets are in the bucket `flare`
            #expect(try await migrated.manifest(for: "flare/kept") == moved)
            #expect(try await migrated.reclaimReservations(onNodes: ["n3:3"]) == 0)
        }
    }
}
