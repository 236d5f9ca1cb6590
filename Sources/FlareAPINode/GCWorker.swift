import FlareCore
import FlareIO
import FlareMetadata
import FlareMetrics
import Logging

/// Deletes orphan chunk copies: copies on a data node that no manifest, no upload in flight,
/// no queued deletion and no repair refers to, written longer than `graceSeconds` ago. A
/// crash between a chunk's write and its record, a copy that landed after its upload gave
/// up on it, a deletion the node acknowledged and never did, a lost copy on a node that came
/// back under an id the manifest no longer names: nothing else would ever delete those.
///
/// Every `intervalSeconds` (the first pass one interval after the start), for each data node
/// that is up: the node lists the chunks it wrote at least `graceSeconds` ago by its own
/// clock; one metadata read transaction keeps those nothing refers to
/// (``MetadataStore/unreferencedChunks(_:nodeNames:)``); then each of them, under the
/// chunk's lock in ``ChunkLocks``, is checked again (``MetadataStore/isCopyReferenced(chunk:nodeNames:)``)
/// and, still unreferenced, deleted on that node, the lock held until the node answers.
///
/// Why this never deletes a copy of a committed object or of an upload in progress:
/// - Every copy is referenced before it is written, and stays referenced while anyone may
///   still need it. An upload reserves its chunk ids before it sends any copy, and its
///   commit ends them and names the copies in one transaction (failed-over attempts are
///   queued for deletion in it too); a failed upload deletes its copies and then, in one
///   transaction, ends its reservations and queues what it could not delete. A repair
///   records its copy (`repairs`) before sending it and resolves it into the manifest or the
///   deletion queue in one transaction. Deleting or overwriting an object moves its copies
///   from the manifest to the deletion queue in one transaction; a queued deletion leaves the
///   queue only after the node confirmed it. So a copy on disk that nothing refers to is
///   one whose owner is done with it, and no upload will ever name it: ids are random,
///   reserved once, and a commit names only ids it reserved.
/// - The only way such a copy can become referenced again is a repair writing that very
///   chunk onto that very node. The repair does it holding the chunk's lock, from before its
///   `beginRepair` until `finishRepair` or `abandonRepair`; this worker rechecks and deletes
///   holding the same lock, so it sees either the state before the repair began (nothing
///   refers to the copy, and the repair writes its own copy only after this delete is
///   answered) or the state after it ended (the manifest or the deletion queue names the
///   copy, and it is left alone; a repair that met the orphan itself was refused with 409
///   and queued the copy's deletion).
/// - The recheck is one read transaction, so a reference that moves while it reads (a
///   commit turning a reservation into a manifest entry, a delete turning a manifest entry
///   into a queued deletion) is seen on one side or the other; and it runs after the
///   listing and the first check, so whatever happened since them (a commit, a deletion, a
///   repair) is seen. The first check only narrows the candidates: safety rests on the
///   recheck, which is why a grace of 0 is safe too (tests run GC continuously under load).
/// - A manifest of a build before node ids names a node by `host:port`: a copy counts as
///   referenced when a manifest names it by the node's id or by its address.
///
/// Bounded: at most ``deletionsPerNodeMax`` deletions per node per pass, one at a time; the
/// listing is read into memory of its own (never a chunk buffer, so the worker never waits
/// in the buffer pool) and refused past ``DataNodeClient/listedChunksMax`` ids. A node that
/// is not up is skipped for that pass, as is one whose listing or check fails: a failure
/// only delays collection, never deletes.
final class GCWorker: @unchecked Sendable {
    /// Orphans deleted on one node in one pass at most; the rest wait for the next pass.
    static let deletionsPerNodeMax = 1024

    private let loop: EventLoop
    private let inventory: ChunkInventory
    private let directory: NodeDirectory
    private let metadata: MetadataStore
    private let locks: ChunkLocks
    private let metrics: NodeMetrics
    private let graceSeconds: Int
    private let intervalSeconds: Double
    private let logger: Logger
    private var periodic: PeriodicPass?

    init(loop: EventLoop, inventory: ChunkInventory, directory: NodeDirectory, metadata: MetadataStore, locks: ChunkLocks,
         metrics: NodeMetrics, graceSeconds: Int, intervalSeconds: Double, logger: Logger) {
        precondition(graceSeconds >= 0 && intervalSeconds > 0)
        self.loop = loop
        self.inventory = inventory
        self.directory = directory
        self.metadata = metadata
        self.locks = locks
        self.metrics = metrics
        self.graceSeconds = graceSeconds
        self.intervalSeconds = intervalSeconds
        self.logger = logger
    }

    func start() {
        // Not at once (PeriodicPass): a restart loop must not list every node each time.
        periodic = PeriodicPass(loop: loop, intervalSeconds: intervalSeconds) { [self] in _ = await runPass() }
        periodic?.start()
    }

    func stop() async {
        await periodic?.stop()
    }

    /// What one pass did on one node.
    struct NodePass: Sendable, Equatable {
        /// Old copies nothing referred to when the node's listing was checked.
        var orphans = 0
        /// Those deleted.
        var deleted = 0
        /// Those found referenced on the recheck (an upload, a repair got to them since).
        var referencedSince = 0
        /// Those whose recheck or delete failed, left for a later pass.
        var failed = 0
    }

    /// One pass over every node that is up; returns what it did, by node id.
    @discardableResult
    func runPass() async -> [String: NodePass] {
        loop.assertInLoop()
        var passes: [String: NodePass] = [:]
        for node in directory.nodes where !Task.isCancelled && directory.isUp(node.id) {
            guard let pass = await collect(node) else { continue }
            passes[node.id] = pass
            if pass.deleted > 0 || pass.failed > 0 {
                logger.notice("gc: deleted \(pass.deleted) orphan chunk(s) on data node \(node.id) (\(node.address)) of \(pass.orphans) found older than \(graceSeconds) s\(pass.failed > 0 ? ", \(pass.failed) left for a later pass" : "")")
            }
        }
        metrics.counter("flare_api_gc_passes_total").increment()
        metrics.gauge("flare_api_gc_last_pass_orphans").set(Double(passes.values.reduce(0) { $0 + $1.orphans }))
        return passes
    }

    /// Lists `node`'s old chunks and deletes the orphans among them; `nil` when the listing
    /// or its check failed (logged).
    private func collect(_ node: NodeDirectory.Node) async -> NodePass? {
        let names = [node.id, node.address]
        let orphans: [ChunkID]
        do throws(ChunkInventoryError) {
            let listed = try await inventory.chunkIDs(olderThanSeconds: graceSeconds, on: node.id)
            do {
                orphans = try await metadata.unreferencedChunks(listed, nodeNames: names)
            } catch {
                logger.error("gc: cannot check the chunks of data node \(node.id) against the metadata: \(error)")
                return nil
            }
        } catch {
            logger.warning("gc: \(error)")
            return nil
        }
        var pass = NodePass(orphans: orphans.count)
        for chunk in orphans.prefix(Self.deletionsPerNodeMax) {
            guard !Task.isCancelled, directory.isUp(node.id) else { break }
            switch await delete(chunk, on: node.id, names: names) {
            case .deleted: pass.deleted += 1
            case .referenced: pass.referencedSince += 1
            case .failed: pass.failed += 1
            }
        }
        if pass.deleted > 0 { metrics.counter("flare_api_gc_deleted_chunks_total").increment(by: pass.deleted) }
        return pass
    }

    private enum Outcome { case deleted, referenced, failed }

    /// Rechecks and deletes one copy, holding the chunk's lock throughout: no repair can make
    /// this copy between the check and the delete.
    private func delete(_ chunk: ChunkID, on node: String, names: [String]) async -> Outcome {
        await locks.withLock(chunk) {
            do {
                guard try await !metadata.isCopyReferenced(chunk: chunk, nodeNames: names) else { return .referenced }
            } catch {
                logger.error("gc: cannot recheck chunk \(chunk) on \(node); it stays: \(error)")
                return .failed
            }
            guard await inventory.delete(chunk, on: node) else { return .failed }
            logger.debug("gc: deleted orphan chunk \(chunk) on \(node)")
            return .deleted
        }
    }
}
