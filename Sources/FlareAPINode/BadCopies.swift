import FlareCore
import Synchronization

/// Copies found bad — by a read (missing on a node that answered, a wrong length, bytes that
/// fail the manifest's CRC32C) or by a data node's scrubber (`GET /chunks/corrupt`) —
/// waiting for the repair to make them again from a good copy. Shared by every loop (reads
/// report from all of them), bounded: past `copiesMax` a report is dropped, and the
/// scrubber's list or the next failed read brings it back.
final class BadCopies: Sendable {
    static let copiesMax = 100_000

    private struct State {
        var copies: Set<ChunkCopy> = []
        var reports = 0
    }
    private let state = Mutex(State())

    /// Records a bad copy; returns whether it was new.
    @discardableResult
    func report(_ chunk: ChunkID, on node: String) -> Bool {
        state.withLock { state in
            guard state.copies.count < Self.copiesMax else { return false }
            let inserted = state.copies.insert(ChunkCopy(chunk: chunk, node: node)).inserted
            if inserted { state.reports += 1 }
            return inserted
        }
    }

    /// Every bad copy, by chunk.
    var byChunk: [ChunkID: Set<String>] {
        state.withLock { state in
            var result: [ChunkID: Set<String>] = [:]
            for copy in state.copies { result[copy.chunk, default: []].insert(copy.node) }
            return result
        }
    }

    /// Forgets copies the manifests no longer name (made again, or their object is gone).
    func forget(_ copies: some Sequence<ChunkCopy>) {
        state.withLock { state in for copy in copies { state.copies.remove(copy) } }
    }

    /// Raised by every new report: a repair pass that found nothing to do may find work now.
    var generation: Int { state.withLock { $0.reports } }

    var count: Int { state.withLock { $0.copies.count } }
}
