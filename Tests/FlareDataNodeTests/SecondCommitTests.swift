import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Testing

@Suite("Chunk store: an id is committed once")
struct SecondCommitTests {
    @Test("a second put of a committed id is refused by the rename (409); the first copy stays, tmp/ is left empty",
          arguments: testedEngines)
    func secondPutRefused(engine: IOEngineKind) async throws {
        try await withChunkStore(engine, "second-commit") { chunks, stats, loop, data in
            let id = ChunkID.random()
            let first = randomBytes(10_000)
            _ = try await store(first, as: id, in: chunks)
            // Straight to the store: the route's exists() check would answer before the
            // rename, and only a race between two PUTs reaches the rename in production.
            do throws(ChunkStoreError) {
                _ = try await store(randomBytes(10_000), as: id, in: chunks)
                Issue.record("the second copy was committed")
            } catch {
                guard case .alreadyExists(id) = error else { throw error }
                #expect(error.status == 409)
            }
            #expect(try await load(id, from: chunks) == first)
            let leftovers = try await FileSystem.names(in: "\(data)/tmp", on: loop)
            #expect(leftovers.isEmpty, "\(leftovers)")
            #expect(stats.metrics.value("flare_datanode_cleanup_failures_total") ?? 0 == 0)
        }
    }
}
