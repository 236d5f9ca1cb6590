import FlareCore
@testable import FlareMetadata
import FlareTestSupport
import Foundation
import Testing

@Suite("Known data nodes, and manifests of a build before node ids")
struct KnownNodesTests {
    typealias M = ManifestFixtures

    @Test("a node is recorded once by id; a new address replaces the old one")
    func recordsNodes() async throws {
        try await withStore { store, path async throws in
            let id = String(repeating: "ab", count: 16)
            try await store.recordNode(KnownNode(id: id, address: "127.0.0.1:1", zone: "z1", capacityBytes: 10, seenNanoseconds: 1))
            try await store.recordNode(KnownNode(id: id, address: "127.0.0.1:2", zone: "z1", capacityBytes: 10, seenNanoseconds: 2))
            store.close()
            let reopened = try SQLiteMetadataStore(path: path)
            defer { reopened.close() }
            #expect(try await reopened.knownNodes() == [KnownNode(id: id, address: "127.0.0.1:2", zone: "z1", capacityBytes: 10, seenNanoseconds: 2)])
        }
    }

    @Test("host:port replicas written by the previous schema are renamed to node ids, in manifests and the deletion queue")
    func renamesLegacyReplicas() async throws {
        try await withStore(graceSeconds: 0) { store, path async throws in
            store.close()
            try FileManager.default.removeItem(atPath: path)
            let old = M.manifest(key: "old", size: 3 * 65536 + 1, seed: 3, replicas: ["127.0.0.1:9001", "127.0.0.1:9002"])
            let other = M.manifest(key: "other", size: 10, seed: 4, replicas: ["127.0.0.1:9003"])
            do {  // schema version 3, as the build before node ids left it
                let database = try SQLiteDatabase(path: path)
                for (index, migration) in SQLiteMetadataStore.migrations.prefix(3).enumerated() {
                    try database.execute("BEGIN IMMEDIATE; \(migration) PRAGMA user_version=\(index + 1); COMMIT;")
                }
                for manifest in [old, other] {
                    try database.execute("INSERT INTO objects VALUES ('\(manifest.key)', \(manifest.size), \(manifest.chunkSize), \(manifest.crc32c), \(manifest.createdNanoseconds), '\(manifest.encodeChunks())')")
                }
                try database.execute("INSERT INTO deletions(chunk, node, not_before_ns) VALUES ('\(old.chunks[0].id)', '127.0.0.1:9001', 0)")
            }
            let store = try SQLiteMetadataStore(path: path, deletionGraceSeconds: 0)
            defer { store.close() }
            let id = String(repeating: "cd", count: 16)
            #expect(try await store.renameReplicas(address: "127.0.0.1:9001", to: id) == 1)
            #expect(try await store.renameReplicas(address: "127.0.0.1:9001", to: id) == 0, "a second start renames nothing")
            // Objects from before buckets are in the bucket `flare`.
            let renamed = try #require(try await store.manifest(for: "flare/old"))
            #expect(renamed.chunks.allSatisfy { $0.replicas == [id, "127.0.0.1:9002"] })
            #expect(renamed.chunks.map(\.id) == old.chunks.map(\.id) && renamed.size == old.size && renamed.crc32c == old.crc32c)
            var otherMoved = other
            otherMoved.key = "flare/other"
            #expect(try await store.manifest(for: "flare/other") == otherMoved)
            #expect(try await store.buckets().map(\.name) == ["flare"])
            #expect(try await store.pendingDeletions(limit: 10).map(\.node) == [id])
        }
    }
}
