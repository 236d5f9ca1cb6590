import FlareCore
import FlareMetadata
import FlareTestSupport
import Foundation
import Testing

@Suite("Upload intents")
struct UploadIntentTests {
    typealias M = ManifestFixtures

    @Test("a commit keeps the manifest's copies and queues the upload's other attempts")
    func commitEndsIntents() async throws {
        try await withStore(graceSeconds: 3600) { store, _ async throws in
            let manifest = M.manifest(key: "k", size: 2 * 65536, seed: 5, replicas: ["n1:1"])
            for chunk in manifest.chunks {
                try await store.recordIntent(upload: "u1", chunk: chunk.id, node: "n2:2")  // failed over
                try await store.recordIntent(upload: "u1", chunk: chunk.id, node: "n1:1")
            }
            _ = try await store.commit(manifest, upload: "u1")
            let pending = try await store.pendingDeletions(limit: 100)
            #expect(copies(pending) == Set(manifest.chunks.map { "\($0.id)@n2:2" }))
        }
    }

    @Test("an abandoned upload queues its leftovers; intents of a crashed process are queued at the next open")
    func abandonAndCrash() async throws {
        try await withStore { store, path async throws in
            let a = ChunkID.random(), b = ChunkID.random(), c = ChunkID.random()
            try await store.recordIntent(upload: "gone", chunk: a, node: "n1:1")
            try await store.abandonUpload("gone", leftovers: [(a, "n1:1")])
            #expect(copies(try await store.pendingDeletions(limit: 10)) == ["\(a)@n1:1"])
            // An upload in flight when the process dies: only its intents remain.
            try await store.recordIntent(upload: "inflight", chunk: b, node: "n2:2")
            try await store.recordIntent(upload: "inflight", chunk: c, node: "n3:3")
            store.close()
            let reopened = try SQLiteMetadataStore(path: path, deletionGraceSeconds: 30)
            defer { reopened.close() }
            #expect(copies(try await reopened.pendingDeletions(limit: 10)) == ["\(a)@n1:1", "\(b)@n2:2", "\(c)@n3:3"])
        }
    }
}
