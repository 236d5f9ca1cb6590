@testable import FlareAPINode
import FlareCore
import FlareIO
import Testing

@Suite("Chunk id reservations: recorded in batches, ahead of the uploads that take them")
struct ChunkIDReservationsTests {
    @Test("an upload takes a recorded id without waiting while the next batch is being written; it waits only when the stock is out")
    func refillsInTheBackground() async throws {
        let loop = try EventLoop.start(engine: .epoll, name: "reservations-test")
        defer { loop.shutdown() }
        let metadata = MemoryMetadataStore()
        try await loop.run {
            let reservations = ChunkIDReservations(metadata: metadata, batchCount: 4) { body in loop.spawn { await body() } }
            var taken: [ChunkID] = [try await reservations.take()]  // the first batch: waited for
            #expect(reservations.stockCount == 3 && metadata.state.withLock { $0.reserveWrites } == 1)
            metadata.holdReservations.withLock { $0 = true }
            taken.append(try await reservations.take())  // 2 left: no refill yet
            taken.append(try await reservations.take())  // 1 left: the refill starts, and is held
            while metadata.heldReservations == 0 { await Task.yield() }
            taken.append(try await reservations.take())  // still served from stock
            #expect(reservations.stockCount == 0 && metadata.heldReservations == 1)
            let waiting = loop.spawn { try await reservations.take() }
            for _ in 0..<100 { await Task.yield() }
            metadata.holdReservations.withLock { $0 = false }
            metadata.finishHeldReservations()
            taken.append(try await waiting.value)
            let reserved = metadata.state.withLock { $0.reserved }
            #expect(Set(taken).count == 5 && Set(taken).isSubset(of: reserved), "an id was handed out before it was recorded")
        }
    }

    @Test("a failed reservation write fails the uploads waiting for it; the next take tries again")
    func failedWrite() async throws {
        let loop = try EventLoop.start(engine: .epoll, name: "reservations-fail")
        defer { loop.shutdown() }
        let metadata = MemoryMetadataStore(failReservationsFirst: 1)
        try await loop.run {
            let reservations = ChunkIDReservations(metadata: metadata, batchCount: 4) { body in loop.spawn { await body() } }
            await #expect(throws: MemoryMetadataStore.Refused.self) { try await reservations.take() }
            let id = try await reservations.take()
            #expect(metadata.state.withLock { $0.reserved.contains(id) })
        }
    }
}
