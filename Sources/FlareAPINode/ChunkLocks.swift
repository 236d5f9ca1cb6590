import FlareCore
import FlareIO

/// One holder at a time per chunk id, between the repair, the deletion worker and garbage
/// collection: a repair writes a chunk's copy onto a node, and neither a queued deletion of
/// that very copy (left by an earlier failed attempt) nor garbage collection (which found
/// the copy unreferenced) may delete it while it does, or the copy the manifest is about to
/// name could be deleted under it. Loop-confined (the workers run on one loop); waiters are
/// served first come, first served.
final class ChunkLocks: @unchecked Sendable {
    private let loop: EventLoop
    private var held: [ChunkID: [CheckedContinuation<Void, Never>]] = [:]

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// Runs `body` holding `chunk`'s lock.
    func withLock<T>(_ chunk: ChunkID, _ body: () async -> T) async -> T {
        loop.assertInLoop()
        if held[chunk] != nil {
            await withCheckedContinuation { held[chunk]!.append($0) }
        } else {
            held[chunk] = []
        }
        defer {
            loop.assertInLoop()
            if var waiters = held[chunk], !waiters.isEmpty {
                let next = waiters.removeFirst()
                held[chunk] = waiters
                next.resume()  // the lock passes to it, still marked held
            } else {
                held.removeValue(forKey: chunk)
            }
        }
        return await body()
    }

    /// Chunks held now (for tests).
    var heldCount: Int { held.count }

    /// Tasks waiting for `chunk`'s lock now (for tests).
    func waiterCount(_ chunk: ChunkID) -> Int { held[chunk]?.count ?? 0 }
}
