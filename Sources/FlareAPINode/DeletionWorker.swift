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
    private let logger: Logger
    private var task: Task<Void, Error>?

    init(context: LoopContext, metadata: MetadataStore, logger: Logger) {
        self.context = context
        self.metadata = metadata
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
            pending = try await metadata.pendingDeletions(limit: Self.batchMax)
        } catch {
            logger.error("deletion queue unreadable: \(error)")
            return 0
        }
        var finished: [Int64] = []
        for deletion in pending where await context.dataNodes.delete(deletion.chunk, on: deletion.node) {
            finished.append(deletion.sequence)
        }
        guard !finished.isEmpty else { return 0 }
        do {
            try await metadata.finishDeletions(finished)
            context.dataNodes.metrics.increment("flare_api_chunks_deleted_total", by: Double(finished.count))
        } catch {
            logger.error("cannot record finished deletions: \(error)")
        }
        return finished.count
    }
}
