import FlareCore
import FlareIO
import FlareMetadata
import Logging

/// Works through the persisted deletion queue: chunks of replaced and deleted objects
/// (after their grace period) and of uploads whose cleanup failed. A deletion leaves the
/// queue only when the data node confirms it, so a crash at any point leaks nothing.
final class DeletionWorker: @unchecked Sendable {
    static let batchMax = 256
    static let pollInterval = Duration.seconds(1)

    private let context: LoopContext
    private let metadata: MetadataStore
    private let locks: ChunkLocks
    private let logger: Logger
    private var task: Task<Void, Error>?
    /// Where the next batch starts: past deletions that could not be done (their node is
    /// down), so they do not hold back the rest of the queue. Back to the start after the end.
    private var cursor: Int64 = 0

    /// Nodes removed from the layout: never contacted again, so their deletions are dropped
    /// (should one come back, garbage collection finds what it still holds).
    private let removedNodes: @Sendable () -> Set<String>

    init(context: LoopContext, metadata: MetadataStore, locks: ChunkLocks, logger: Logger,
         removedNodes: @escaping @Sendable () -> Set<String> = { [] }) {
        self.removedNodes = removedNodes
        self.context = context
        self.metadata = metadata
        self.locks = locks
        self.logger = logger
    }

    func start() {
        task = context.loop.spawn { [self] in
            while !Task.isCancelled {
                let done = await runOnce()
                if done < Self.batchMax { try await context.loop.sleep(for: Self.pollInterval) }
            }
        }
    }

    func stop() async {
        task?.cancel()
        _ = await task?.result
    }

    /// One batch; returns how many deletions finished.
    func runOnce() async -> Int {
        let pending: [PendingDeletion]
        do {
            pending = try await metadata.pendingDeletions(after: cursor, limit: Self.batchMax)
        } catch {
            logger.error("deletion queue unreadable: \(error)")
            return 0
        }
        cursor = pending.count < Self.batchMax ? 0 : pending.last!.sequence
        let removed = removedNodes()
        var finished = pending.filter { removed.contains($0.node) }.map(\.sequence)
        // A node that is not up keeps its deletions queued, instead of each one waiting out a
        // timeout on it.
        for deletion in pending where context.dataNodes.directory.isUp(deletion.node) {
            // Not while a repair writes this chunk: it may be making this very copy again
            // (it checks that no deletion of it is queued, under the same lock).
            let deleted = await locks.withLock(deletion.chunk) { await context.dataNodes.delete(deletion.chunk, on: deletion.node) }
            guard deleted else { continue }
            finished.append(deletion.sequence)
        }
        guard !finished.isEmpty else { return 0 }
        do {
            try await metadata.finishDeletions(finished)
            context.dataNodes.metrics.counter("flare_api_chunks_deleted_total").increment(by: finished.count)
        } catch {
            logger.error("cannot record finished deletions: \(error)")
        }
        return finished.count
    }
}
