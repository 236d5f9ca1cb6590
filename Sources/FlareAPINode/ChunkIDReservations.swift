import FlareCore
import FlareMetadata

/// Chunk ids recorded in the metadata store before any upload uses them, handed out to the
/// uploads of one loop.
///
/// Every copy of a chunk must be recorded before it is sent, or a crash of the api between
/// the send and the commit would leak it. Recording each chunk as it is sent puts a
/// metadata write on every chunk's path, queued behind other uploads' commits and their
/// fsyncs. So ids are recorded ahead, `batchCount` in one write, and the next batch is
/// recorded in the background when the stock runs low: an upload takes an id without
/// waiting, unless uploads outrun the refills. A crash leaves the ids of the unfinished
/// uploads (and the stock) recorded; the next start queues their copies for deletion.
///
/// Loop-confined: used only from tasks on one loop.
final class ChunkIDReservations: @unchecked Sendable {
    /// Ids recorded in one metadata write.
    let batchCount: Int
    private let metadata: MetadataStore
    private let spawn: (@escaping @Sendable () async -> Void) -> Void
    private var stock: [ChunkID] = []
    private var refilling = false
    private var waiters: [CheckedContinuation<ChunkID, Error>] = []

    /// - Parameter spawn: starts a background refill on the owning loop.
    init(metadata: MetadataStore, batchCount: Int, spawn: @escaping (@escaping @Sendable () async -> Void) -> Void) {
        precondition(batchCount > 0)
        self.metadata = metadata
        self.batchCount = batchCount
        self.spawn = spawn
    }

    /// Ids recorded and not yet handed out.
    var stockCount: Int { stock.count }

    /// A recorded id, waiting for a refill only when the stock is empty.
    func take() async throws -> ChunkID {
        defer { refillIfLow() }
        if waiters.isEmpty, let id = stock.popLast() { return id }
        refillIfLow()
        return try await withCheckedThrowingContinuation { waiters.append($0) }
    }

    /// Ends the reservation of ids that were never used (at shutdown).
    func releaseStock() async throws {
        let unused = stock
        stock.removeAll()
        try await metadata.releaseChunkIDs(unused, leftovers: [])
    }

    private func refillIfLow() {
        guard !refilling && stock.count - waiters.count < batchCount / 2 else { return }
        refilling = true
        let ids = (0..<batchCount).map { _ in ChunkID.random() }
        spawn { [self] in
            do {
                try await metadata.reserveChunkIDs(ids)
                refilled(with: ids)
            } catch {
                refillFailed(error)
            }
        }
    }

    private func refilled(with ids: [ChunkID]) {
        refilling = false
        stock.append(contentsOf: ids)
        while !waiters.isEmpty, let id = stock.popLast() { waiters.removeFirst().resume(returning: id) }
        refillIfLow()
    }

    /// Every upload waiting hears the failure; the next `take` tries again.
    private func refillFailed(_ error: Error) {
        refilling = false
        let failed = waiters
        waiters.removeAll()
        for waiter in failed { waiter.resume(throwing: error) }
    }
}
