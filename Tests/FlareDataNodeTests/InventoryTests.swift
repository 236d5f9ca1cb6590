import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Testing

@Suite("Chunk store: listing and deleting")
struct InventoryTests {
    @Test("ids lists every committed chunk, sorted; delete takes its bytes off the gauges; a missing id is notFound",
          arguments: testedEngines)
    func listAndDelete(engine: IOEngineKind) async throws {
        try await withChunkStore(engine, "inventory") { chunks, stats, _, _ in
            let ids = (0..<20).map { _ in ChunkID.random() }
            for id in ids { _ = try await store(randomBytes(5000), as: id, in: chunks) }
            let listed = try await chunks.ids()
            #expect(listed == ids.sorted { "\($0)" < "\($1)" })
            #expect(stats.metrics.value("flare_datanode_stored_bytes") == Double(20 * ChunkFormat.fileBytes(5000)))
            try await chunks.delete(ids[0])
            #expect(stats.metrics.value("flare_datanode_stored_bytes") == Double(19 * ChunkFormat.fileBytes(5000)))
            #expect(stats.metrics.value("flare_datanode_chunks") == 19)
            let remaining = try await chunks.ids()
            #expect(remaining == Array(listed.filter { $0 != ids[0] }))
            do throws(ChunkStoreError) {
                try await chunks.delete(ids[0])
                Issue.record("a deleted chunk was deleted again")
            } catch {
                guard case .notFound = error else { throw error }
            }
        }
    }
}
