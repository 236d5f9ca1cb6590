import FlareMetrics
import Synchronization

/// Counts kept across all of a node's stores (every loop), exported as metrics and read back
/// by `/health` (swift-metrics handles are write-only, so the figures /health shows are kept here).
public final class ChunkStoreStats: Sendable {
    /// Where the scrubber is: the current (or last) pass, and the passes done.
    public struct ScrubProgress: Sendable, Equatable {
        public var checked = 0
        public var total = 0
        public var passes = 0
        /// Unix time the last whole pass ended, `nil` before the first.
        public var lastPassEndSeconds: Double?
    }

    private struct State {
        var chunks: Int
        var bytesStored: Int
        var scrub = ScrubProgress()
    }

    public let metrics: NodeMetrics
    private let state: Mutex<State>

    public init(metrics: NodeMetrics, chunkCount: Int, bytesStored: Int) {
        self.metrics = metrics
        state = Mutex(State(chunks: chunkCount, bytesStored: bytesStored))
        metrics.gauge("flare_datanode_chunks").set(chunkCount)
        metrics.gauge("flare_datanode_stored_bytes").set(bytesStored)
        metrics.counter("flare_datanode_corrupt_chunks_total").increment(by: 0)
        metrics.counter("flare_datanode_cleanup_failures_total").increment(by: 0)
    }

    /// Bytes of committed chunk files (data, padding and footers), as counted at start-up
    /// and kept up to date by every commit and delete.
    public var bytesStored: Int { state.withLock { $0.bytesStored } }

    /// Chunks held (quarantined ones included), as counted at start-up and kept up to date.
    public var chunks: Int { state.withLock { $0.chunks } }

    public var scrub: ScrubProgress { state.withLock { $0.scrub } }

    func committed(fileBytes: Int) { changeChunks(by: 1, bytes: fileBytes) }

    func deleted(fileBytes: Int) { changeChunks(by: -1, bytes: -fileBytes) }

    /// The gauges are set under the lock, so they never go back to an older figure.
    private func changeChunks(by count: Int, bytes: Int) {
        state.withLock { state in
            state.chunks += count
            state.bytesStored += bytes
            metrics.gauge("flare_datanode_chunks").set(state.chunks)
            metrics.gauge("flare_datanode_stored_bytes").set(state.bytesStored)
        }
    }

    /// Changes the scrubber's progress and its gauges together.
    func updateScrub(_ change: (inout ScrubProgress) -> Void) {
        state.withLock { state in
            change(&state.scrub)
            let scrub = state.scrub
            metrics.gauge("flare_datanode_scrub_pass_chunks").set(scrub.checked)
            metrics.gauge("flare_datanode_scrub_pass_chunks_total").set(scrub.total)
            if let end = scrub.lastPassEndSeconds { metrics.gauge("flare_datanode_scrub_last_pass_end_seconds").set(end) }
        }
    }

    func corruptionFound() { metrics.counter("flare_datanode_corrupt_chunks_total").increment() }
    func cleanupFailed() { metrics.counter("flare_datanode_cleanup_failures_total").increment() }
}
