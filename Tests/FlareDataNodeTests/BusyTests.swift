import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Testing

@Suite("Chunk store: a full line for buffers is 503, not a crash")
struct BusyTests {
    @Test("put and open refuse with busy (503) when no buffer is free and no one may wait", arguments: testedEngines)
    func busy(engine: IOEngineKind) async throws {
        try await withChunkStore(engine, "busy", waitersMax: 0) { store, _, _, _ in
            let id = ChunkID.random()
            let body: [UInt8] = Array("busy".utf8)
            let crc = body.withUnsafeBytes { CRC32C.checksum($0) }
            _ = try await store.put(id: id, length: body.count, expectedCRC: crc) { buffer in
                buffer.copyBytes(from: body)
                return body.count
            }
            var held = [store.pool.tryAcquire(), store.pool.tryAcquire()]
            #expect(store.pool.tryAcquire() == nil)
            do throws(ChunkStoreError) {
                _ = try await store.put(id: ChunkID.random(), length: body.count, expectedCRC: crc) { _ in 0 }
                Issue.record("put got a buffer while all were held")
            } catch {
                guard case .busy = error else { throw error }
                #expect(error.status == 503)
            }
            do throws(ChunkStoreError) {
                _ = try await store.open(id)
                Issue.record("open got a buffer while all were held")
            } catch {
                guard case .busy = error else { throw error }
                #expect(error.status == 503)
            }
            held.removeAll()
            let reader = try await store.open(id)
            #expect(reader.footer.length == body.count)
            await reader.close()
        }
    }
}
