import FlareCore
import FlareIO
import FlareMetadata
import Logging

/// Makes lost copies again, so that a second failure later does not lose what the first one
/// weakened. A copy is lost when its node has been `down` for `repairAfter`, or when its
/// node id is gone from the directory (a node whose data directory was wiped comes back
/// with a new id; a node no longer listed in `--datanodes`) for as long.
///
/// Each pass walks every manifest in key order. For each chunk with a lost copy and a good
/// one it reads the chunk from a good copy (checked against the manifest's CRC32C, like any
/// read), writes it to the next node in rendezvous order that holds none, and swaps the new
/// node in for the lost one by compare-and-set (``MetadataStore/finishRepair(_:)``): an
/// object overwritten or deleted meanwhile is left alone and the new copy is queued for
/// deletion; the lost copy is queued for deletion only once the manifest no longer names
/// it. The copy is recorded before it is sent, so a crash mid-repair leaks nothing
/// (``MetadataStore/reclaimRepairs()`` at the next start). Passes are idempotent: a restart
/// simply starts over. At most `concurrency` chunks are copied at once, each in a buffer of
/// the loop's pool that was free (repair never waits in the pool's line ahead of clients).
final class RepairWorker: @unchecked Sendable {
    static let passInterval = Duration.seconds(1)
    static let pageSize = 256

    private let context: LoopContext
    private let metadata: MetadataStore
    private let locks: ChunkLocks
    /// Copies every chunk should have (`--replicas`).
    private let replicas: Int
    private let repairAfterSeconds: Double
    private let concurrency: Int
    private let logger: Logger
    private let started = ContinuousClock.now
    private var task: Task<Void, Error>?

    init(context: LoopContext, metadata: MetadataStore, locks: ChunkLocks, replicas: Int, repairAfterSeconds: Double,
         concurrency: Int, logger: Logger) {
        precondition(concurrency > 0 && repairAfterSeconds >= 0)
        self.context = context
        self.metadata = metadata
        self.locks = locks
        self.replicas = replicas
        self.repairAfterSeconds = repairAfterSeconds
        self.concurrency = concurrency
        self.logger = logger
    }

    private var metrics: Metrics { context.dataNodes.metrics }
    private var directory: NodeDirectory { context.dataNodes.directory }

    func start() {
        task = context.loop.spawn { [self] in
            while !Task.isCancelled {
                let copied = await runPass()
                if copied == 0 { try await context.loop.sleep(for: Self.passInterval) }
            }
        }
    }

    func stop() async {
        task?.cancel()
        _ = await task?.result
    }

    /// A copy to make: chunk `chunk` of the object as `manifest` had it, from `sources`
    /// (in read order) onto a new node, in place of `lost` — or, with no `lost`, as one more
    /// copy of a chunk stored with fewer than `--replicas` (written before it was raised).
    struct Job: Sendable {
        var manifest: ObjectManifest
        var chunk: ChunkRecord
        var lost: String?
        var sources: [String]
    }

    /// Chunks with fewer copies than `--replicas` appear only when it was raised, before
    /// this start: one pass looks for them, repeated while it makes copies.
    private var lookForFewCopies = true

    /// The nodes whose copies are lost now: down for `repairAfter`, or ids the metadata has
    /// known and the directory no longer has (a wiped node's old id, a node no longer
    /// configured) — those after the same time from this process's start, so that nodes
    /// still being found at start-up are not taken for gone.
    private func lostNodes() async throws -> Set<String> {
        var lost = directory.down(forAtLeast: repairAfterSeconds)
        if (ContinuousClock.now - started).secondsValue >= repairAfterSeconds {
            for known in try await metadata.knownNodes() where directory.address(of: known.id) == nil { lost.insert(known.id) }
        }
        return lost
    }

    /// The node states a pass made no copy under, and when. New chunks never go to a node
    /// that is not up, so while the lost and unavailable nodes stay the same another pass
    /// would most likely find nothing to do either (or fail the same way): it waits, up to
    /// `rescanSeconds`, instead of reading every manifest each second. The bound catches a
    /// chunk an upload in flight stored on a node before it was lost.
    private var quiet: (lost: Set<String>, unavailable: Set<String>, at: ContinuousClock.Instant)?
    private var rescanSeconds: Double { max(repairAfterSeconds, 10) }

    /// One pass over every manifest; returns how many copies it made.
    func runPass() async -> Int {
        let lost: Set<String>
        do {
            lost = try await lostNodes()
        } catch {
            logger.error("repair: cannot read the node table: \(error)")
            return 0
        }
        metrics.set("flare_api_repair_lost_nodes", Double(lost.count))
        let unavailable = directory.unavailable
        guard !lost.isEmpty || lookForFewCopies else { return 0 }
        if !lost.isEmpty, let quiet, quiet.lost == lost, quiet.unavailable == unavailable,
           (ContinuousClock.now - quiet.at).secondsValue < rescanSeconds { return 0 }
        var copied = 0
        var startAfter: String?
        repeat {
            let page: ObjectListing
            var jobs: [Job] = []
            do {
                page = try await metadata.list(prefix: "", startAfter: startAfter, limit: Self.pageSize)
                for entry in page.entries {
                    guard let manifest = try await metadata.manifest(for: entry.key) else { continue }
                    jobs += self.jobs(manifest, lost: lost)
                }
            } catch {
                logger.error("repair: cannot read the manifests: \(error)")
                return copied
            }
            metrics.set("flare_api_repair_pending_chunks", Double(jobs.count))
            copied += await run(jobs)
            startAfter = page.nextStartAfter
        } while startAfter != nil && !Task.isCancelled
        metrics.set("flare_api_repair_pending_chunks", 0)
        quiet = copied == 0 && startAfter == nil ? (lost, unavailable, .now) : nil
        if copied == 0 && startAfter == nil { lookForFewCopies = false }
        return copied
    }

    /// The copies `manifest` needs: one job per chunk with a lost copy and a good one, or
    /// with fewer copies than `--replicas`.
    func jobs(_ manifest: ObjectManifest, lost nodes: Set<String>) -> [Job] {
        var jobs: [Job] = []
        for chunk in manifest.chunks {
            let lost = chunk.replicas.filter { nodes.contains($0) }
            if lost.isEmpty {
                if chunk.replicas.count < replicas {
                    jobs.append(Job(manifest: manifest, chunk: chunk, lost: nil, sources: directory.readOrder(chunk.replicas)))
                }
                continue
            }
            let good = chunk.replicas.filter { !lost.contains($0) }
            guard !good.isEmpty else {
                metrics.increment("flare_api_repair_copies_total", labels: "result=\"no_source\"")
                continue
            }
            // One lost copy per pass: the next pass sees the new copy as good.
            jobs.append(Job(manifest: manifest, chunk: chunk, lost: lost[0], sources: directory.readOrder(good)))
        }
        return jobs
    }

    /// Runs `jobs`, at most `concurrency` at once; returns how many copies were recorded.
    private func run(_ jobs: [Job]) async -> Int {
        var waiting = jobs[...]
        var recorded = 0
        await withTaskGroup(of: Bool.self) { group in
            var inFlight = 0
            while true {
                while inFlight < concurrency, !Task.isCancelled, let job = waiting.popFirst() {
                    group.addTask { [self] in await repair(job) }
                    inFlight += 1
                }
                guard let done = await group.next() else { break }
                inFlight -= 1
                if done { recorded += 1 }
            }
        }
        return recorded
    }

    /// Makes one copy; returns whether the manifest now names it.
    private func repair(_ job: Job) async -> Bool {
        let chunk = job.chunk
        guard let target = directory.repairTarget(for: chunk.id, keeping: job.sources, replicas: chunk.replicas) else {
            metrics.increment("flare_api_repair_copies_total", labels: "result=\"no_target\"")
            return false
        }
        // Only a free buffer: waiting in the pool's line would put repair ahead of clients.
        guard let buffer = context.pool.tryAcquire() else { return false }  // the next pass tries again
        var source = chunk
        source.replicas = job.sources
        do {
            try await context.dataNodes.fetch(source, into: buffer, metrics: metrics) { bad in
                logger.warning("repair: bad replica \(bad)")
            }
        } catch {
            logger.warning("repair: chunk \(chunk.id) of \(job.manifest.key) could not be read from \(job.sources): \(error)")
            metrics.increment("flare_api_repair_copies_total", labels: "result=\"read_failed\"")
            return false
        }
        return await locks.withLock(chunk.id) { await write(job, buffer, to: target) }
    }

    /// Writes the chunk read into `buffer` onto `target` and records it; under the chunk's
    /// lock, so no queued deletion of that copy runs meanwhile.
    private func write(_ job: Job, _ buffer: IOBuffer, to target: String) async -> Bool {
        let chunk = job.chunk
        do {
            // A deletion of this very copy still queued (an earlier attempt's) would delete
            // what the manifest is about to name: wait for it to run.
            guard try await !metadata.isDeletionQueued(chunk: chunk.id, node: target) else {
                metrics.increment("flare_api_repair_copies_total", labels: "result=\"target_busy\"")
                return false
            }
            try await metadata.beginRepair(key: job.manifest.key, chunk: chunk.id, node: target)
        } catch {
            logger.error("repair: cannot record the copy of \(chunk.id) to \(target): \(error)")
            return false
        }
        var repair = ChunkRepair(key: job.manifest.key, createdNanoseconds: job.manifest.createdNanoseconds, chunk: chunk.id,
                                 lost: job.lost, added: target, lostCopyReachable: job.lost.map { directory.address(of: $0) != nil } ?? true)
        repair.copiesBefore = chunk.replicas.count
        do throws(ChunkTransportError) {
            try await context.dataNodes.put(chunk.id, buffer.bytes, crc32c: chunk.crc32c, on: target)
        } catch {
            logger.warning("repair: writing chunk \(chunk.id) to \(target) failed: \(error)")
            metrics.increment("flare_api_repair_copies_total", labels: "result=\"write_failed\"")
            do {
                try await metadata.abandonRepair(chunk: chunk.id, node: target)  // the copy may have landed
            } catch {
                logger.error("repair: cannot queue the failed copy of \(chunk.id) on \(target): \(error)")
            }
            return false
        }
        do {
            let recorded = try await metadata.finishRepair(repair)
            metrics.increment("flare_api_repair_copies_total", labels: "result=\"\(recorded ? "done" : "superseded")\"")
            if recorded {
                metrics.increment("flare_api_repair_bytes_total", by: Double(chunk.length))
                logger.info("repair: chunk \(chunk.id) of \(job.manifest.key) copied to \(target)\(job.lost.map { ", replacing \($0)" } ?? ", one copy more")")
            }
            return recorded
        } catch {
            // Left recorded as begun: the next start reclaims the copy unless the manifest names it.
            logger.error("repair: cannot record chunk \(chunk.id) on \(target): \(error)")
            return false
        }
    }
}
