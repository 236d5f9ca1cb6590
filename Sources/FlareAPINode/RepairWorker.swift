import FlareCluster
import FlareCore
import FlareIO
import FlareMetadata
import FlareMetrics
import Logging

/// Keeps every chunk's copies whole and where the layout wants them: makes lost and bad
/// copies again, adds copies to chunks with fewer than `--replicas`, and moves copies to the
/// nodes the layout wants (after a node is added, drained or reweighed) — one decision,
/// ``CopyPlan/plan(replicas:copies:wanted:lost:bad:draining:unavailable:)``, and one copy path.
///
/// A copy is lost when its node has been `down` for `repairAfter`, was removed from the
/// layout (at once), or is gone from the directory (a node whose data directory was wiped
/// comes back with a new id) for as long; bad when a read found it missing or wrong, or its
/// node's scrubber quarantined it.
///
/// Each pass counts what it has to do (for the progress: ``RepairProgress``), then walks
/// every manifest in key order. For each chunk that needs a copy it reads the chunk from a
/// good copy (checked against the manifest's CRC32C, like any read), writes it to the target
/// and swaps the new node in for the replaced one by compare-and-set
/// (``MetadataStore/finishRepair(_:)``): an object overwritten or deleted meanwhile is left
/// alone and the new copy is queued for deletion; the replaced copy is queued for deletion
/// only once the manifest no longer names it. The copy is recorded before it is sent, so a
/// crash mid-copy leaks nothing (``MetadataStore/reclaimRepairs()`` at the next start).
/// Passes are idempotent: a restart simply starts over. At most `concurrency` chunks are
/// copied at once, each in a buffer of the loop's pool that was free (repair never waits
/// in the pool's line ahead of clients), at most `--repair-bandwidth` bytes per second.
final class RepairWorker: @unchecked Sendable {
    static let passInterval = Duration.seconds(1)
    static let pageSize = 256

    private let context: LoopContext
    private let metadata: MetadataStore
    private let locks: ChunkLocks
    private let layout: ClusterLayout
    private let badCopies: BadCopies
    private let progress: RepairProgress
    /// Copies every chunk should have (`--replicas`).
    private let replicas: Int
    private let repairAfterSeconds: Double
    private let concurrency: Int
    private let logger: Logger
    private let started = ContinuousClock.now
    private var task: Task<Void, Error>?
    private let pacer: CopyPacer

    init(context: LoopContext, metadata: MetadataStore, locks: ChunkLocks, layout: ClusterLayout, badCopies: BadCopies,
         progress: RepairProgress, replicas: Int, repairAfterSeconds: Double, concurrency: Int, logger: Logger) {
        precondition(concurrency > 0 && repairAfterSeconds >= 0)
        self.context = context
        self.metadata = metadata
        self.locks = locks
        self.layout = layout
        self.badCopies = badCopies
        self.progress = progress
        self.replicas = replicas
        self.repairAfterSeconds = repairAfterSeconds
        self.concurrency = concurrency
        self.logger = logger
        pacer = CopyPacer(bytesPerSecond: progress.bandwidthBytesPerSecond)
    }

    private var metrics: NodeMetrics { context.dataNodes.metrics }
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

    /// A copy to make: chunk `chunk` of the object as `manifest` had it, by `plan`.
    struct Job: Sendable {
        var manifest: ObjectManifest
        var chunk: ChunkRecord
        var plan: CopyPlan
    }

    /// The nodes whose copies are lost now: down for `repairAfter`, removed from the layout,
    /// or ids the layout has known and the directory no longer has (a wiped node's old id)
    /// — those after the same time from this process's start, so that nodes still being
    /// found at start-up are not taken for gone.
    private func lostNodes() -> Set<String> {
        var lost = directory.down(forAtLeast: repairAfterSeconds).union(layout.removed)
        if (ContinuousClock.now - started).secondsValue >= repairAfterSeconds {
            for known in layout.known where directory.address(of: known.id) == nil { lost.insert(known.id) }
        }
        return lost
    }

    /// What a pass's plans depend on besides the manifests.
    private struct Inputs: Equatable {
        var lost: Set<String>
        var unavailable: Set<String>
        var layout: Int
        var bad: Int
    }

    /// The inputs a pass made no copy under, when, and for how long to trust it. While they
    /// stay the same, a pass that found nothing to do would find nothing again: the next
    /// waits up to `rescanSeconds` instead of reading every manifest each second (the bound
    /// catches a chunk an upload in flight stored on a node before it was lost). A pass whose
    /// copies all failed (a target whose old copy's deletion is still queued, no free buffer,
    /// a failed read) is retried sooner, backing off from 1 s to `retryMaxSeconds`.
    private var quiet: (inputs: Inputs, at: ContinuousClock.Instant, seconds: Double)?
    private var rescanSeconds: Double { max(repairAfterSeconds, 10) }
    static let retryMaxSeconds = 30.0
    private var failedPasses = 0

    /// One pass over every manifest; returns how many copies it made.
    func runPass() async -> Int {
        await askScrubbers()
        let lost = lostNodes()
        metrics.gauge("flare_api_repair_lost_nodes").set(Double(lost.count))
        let inputs = Inputs(lost: lost, unavailable: directory.unavailable, layout: directory.generation, bad: badCopies.generation)
        if let quiet, quiet.inputs == inputs, (ContinuousClock.now - quiet.at).secondsValue < quiet.seconds { return 0 }
        progress.update { $0.beginScan(at: progress.now, wallNanoseconds: wallClockNanoseconds(), lostNodes: lost.sorted()) }
        defer { progress.update { $0.endPass() } }
        let bad = badCopies.byChunk
        // The count first, so progress has a total; plans are made again page by page below
        // (the manifests may change meanwhile), so memory stays one page.
        var counts: [CopyReason: Int] = [:], bytes = 0, stillBad: Set<ChunkCopy> = []
        let counted = await eachPage(lost: lost, bad: bad) { jobs, named in
            for job in jobs {
                counts[job.plan.reason, default: 0] += 1
                bytes += job.chunk.length
            }
            stillBad.formUnion(named)
        }
        guard counted else { return 0 }
        badCopies.forget(bad.flatMap { chunk, nodes in nodes.map { ChunkCopy(chunk: chunk, node: $0) } }.filter { !stillBad.contains($0) })
        let total = counts.values.reduce(0, +)
        progress.update {
            $0.beginCopying(chunks: total, bytes: bytes, lost: counts[.lost] ?? 0, few: counts[.few] ?? 0,
                            misplaced: counts[.misplaced] ?? 0, bad: counts[.bad] ?? 0, at: progress.now)
        }
        metrics.gauge("flare_api_repair_pending_chunks").set(Double(total))
        var copied = 0
        let complete = total == 0 ? true : await eachPage(lost: lost, bad: bad) { jobs, _ in copied += await run(jobs) }
        metrics.gauge("flare_api_repair_pending_chunks").set(0)
        failedPasses = total > 0 && copied == 0 ? failedPasses + 1 : 0
        if !complete || copied > 0 {
            quiet = nil
        } else if total == 0 {
            quiet = (inputs, .now, rescanSeconds)
        } else {
            quiet = (inputs, .now, min(Self.retryMaxSeconds, Double(1 << min(failedPasses - 1, 8))))
        }
        return copied
    }

    /// Calls `body` with each page's jobs (and the bad copies its manifests still name);
    /// `false` when the manifests could not be read or the pass was cancelled.
    private func eachPage(lost: Set<String>, bad: [ChunkID: Set<String>],
                          _ body: ([Job], Set<ChunkCopy>) async -> Void) async -> Bool {
        var startAfter: String?
        repeat {
            let page: ObjectListing
            var jobs: [Job] = [], named: Set<ChunkCopy> = []
            do {
                page = try await metadata.list(prefix: "", startAfter: startAfter, limit: Self.pageSize)
                for entry in page.entries {
                    guard let manifest = try await metadata.manifest(for: entry.key) else { continue }
                    jobs += self.jobs(manifest, lost: lost, bad: bad, named: &named)
                }
            } catch {
                logger.error("repair: cannot read the manifests: \(error)")
                return false
            }
            await body(jobs, named)
            startAfter = page.nextStartAfter
        } while startAfter != nil && !Task.isCancelled
        return !Task.isCancelled
    }

    /// The copies `manifest` needs, one job per chunk at most; `named` collects the bad
    /// copies it still names.
    func jobs(_ manifest: ObjectManifest, lost: Set<String>, bad: [ChunkID: Set<String>] = [:],
              named: inout Set<ChunkCopy>) -> [Job] {
        let draining = directory.draining, unavailable = directory.unavailable
        var jobs: [Job] = []
        for chunk in manifest.chunks {
            let badHere = bad[chunk.id] ?? []
            for node in badHere where chunk.replicas.contains(node) { named.insert(ChunkCopy(chunk: chunk.id, node: node)) }
            let wanted = directory.wanted(for: chunk.id, replicas: replicas)
            guard var plan = CopyPlan.plan(replicas: chunk.replicas, copies: replicas, wanted: wanted, lost: lost, bad: badHere,
                                           draining: draining, unavailable: unavailable) else {
                if CopyPlan.hasNoSource(replicas: chunk.replicas, lost: lost, bad: badHere) {
                    metrics.counter("flare_api_repair_copies_total", ["result": "no_source"]).increment()
                }
                continue
            }
            plan.sources = directory.readOrder(plan.sources)
            jobs.append(Job(manifest: manifest, chunk: chunk, plan: plan))
        }
        return jobs
    }

    /// Scrubbers find little and slowly: asking each node every few seconds is enough.
    static let scrubberAskSeconds = 5.0
    private var scrubbersAsked: ContinuousClock.Instant?
    /// What each node's `/chunks/corrupt` listed last time.
    private var scrubberListings: [String: Set<ChunkID>] = [:]

    /// Adds what data nodes' scrubbers quarantined to the bad copies (up nodes only; a node
    /// that has no scrubber answers 404 and adds nothing).
    private func askScrubbers() async {
        if let asked = scrubbersAsked, (ContinuousClock.now - asked).secondsValue < Self.scrubberAskSeconds { return }
        scrubbersAsked = .now
        for node in directory.nodes where directory.isUp(node.id) {
            guard let corrupt = await context.dataNodes.corruptChunks(on: node.id) else { continue }
            // Only what is new since the last listing: a quarantined copy no manifest names
            // (forgotten after a pass) stays listed until it is deleted, and reporting it
            // again each time would start a full pass every few seconds.
            let listed = Set(corrupt)
            for chunk in listed.subtracting(scrubberListings[node.id] ?? []) where badCopies.report(chunk, on: node.id) {
                logger.warning("repair: data node \(node.id) quarantined chunk \(chunk): making it again from another copy")
            }
            scrubberListings[node.id] = listed
        }
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
        let chunk = job.chunk, plan = job.plan
        let keeping = plan.sources.filter { $0 != plan.replacing }
        guard let target = plan.target ?? directory.repairTarget(for: chunk.id, keeping: keeping, replicas: chunk.replicas) else {
            metrics.counter("flare_api_repair_copies_total", ["result": "no_target"]).increment()
            return false
        }
        // Paced before it takes a buffer, so a copy waiting its turn holds none.
        await pacer.pace(chunk.length, on: context.loop)
        guard !Task.isCancelled else { return false }
        // Only a free buffer: waiting in the pool's line would put repair ahead of clients.
        guard let buffer = context.pool.tryAcquire() else { return false }  // the next pass tries again
        var source = chunk
        source.replicas = plan.sources
        do {
            try await context.dataNodes.fetch(source, into: buffer, metrics: metrics) { bad in
                logger.warning("repair: bad replica \(bad)")
                if bad.fault.copyIsBad { badCopies.report(bad.chunk, on: bad.node) }
            }
        } catch {
            logger.warning("repair: chunk \(chunk.id) of \(job.manifest.key) could not be read from \(plan.sources): \(error)")
            metrics.counter("flare_api_repair_copies_total", ["result": "read_failed"]).increment()
            progress.update { $0.failedCopy() }
            return false
        }
        return await locks.withLock(chunk.id) { await write(job, buffer, to: target) }
    }

    /// Writes the chunk read into `buffer` onto `target` and records it; under the chunk's
    /// lock, so no queued deletion of that copy runs meanwhile.
    private func write(_ job: Job, _ buffer: IOBuffer, to target: String) async -> Bool {
        let chunk = job.chunk, plan = job.plan
        do {
            // A deletion of this very copy still queued (an earlier attempt's) would delete
            // what the manifest is about to name: wait for it to run.
            guard try await !metadata.isDeletionQueued(chunk: chunk.id, node: target) else {
                metrics.counter("flare_api_repair_copies_total", ["result": "target_busy"]).increment()
                return false
            }
            try await metadata.beginRepair(key: job.manifest.key, chunk: chunk.id, node: target)
        } catch {
            logger.error("repair: cannot record the copy of \(chunk.id) to \(target): \(error)")
            return false
        }
        var repair = ChunkRepair(key: job.manifest.key, createdNanoseconds: job.manifest.createdNanoseconds, chunk: chunk.id,
                                 lost: plan.replacing, added: target,
                                 lostCopyReachable: plan.replacing.map { directory.address(of: $0) != nil } ?? true)
        repair.copiesBefore = chunk.replicas.count
        do throws(ChunkTransportError) {
            try await context.dataNodes.put(chunk.id, buffer.bytes, crc32c: chunk.crc32c, on: target)
        } catch {
            logger.warning("repair: writing chunk \(chunk.id) to \(target) failed: \(error)")
            metrics.counter("flare_api_repair_copies_total", ["result": "write_failed"]).increment()
            progress.update { $0.failedCopy() }
            do {
                try await metadata.abandonRepair(chunk: chunk.id, node: target)  // the copy may have landed
            } catch {
                logger.error("repair: cannot queue the failed copy of \(chunk.id) on \(target): \(error)")
            }
            return false
        }
        do {
            let recorded = try await metadata.finishRepair(repair)
            metrics.counter("flare_api_repair_copies_total", ["result": recorded ? "done" : "superseded"]).increment()
            if recorded {
                metrics.counter("flare_api_repair_bytes_total").increment(by: chunk.length)
                metrics.counter("flare_api_repair_reason_copies_total", ["reason": plan.reason.rawValue]).increment()
                progress.update { $0.copied(bytes: chunk.length) }
                if let replaced = plan.replacing { badCopies.forget([ChunkCopy(chunk: chunk.id, node: replaced)]) }
                let what = plan.replacing.map { "replacing \($0)" } ?? "one copy more"
                logger.info("repair: chunk \(chunk.id) of \(job.manifest.key) copied to \(target) (\(plan.reason.rawValue)), \(what)")
            }
            return recorded
        } catch {
            // Left recorded as begun: the next start reclaims the copy unless the manifest names it.
            logger.error("repair: cannot record chunk \(chunk.id) on \(target): \(error)")
            return false
        }
    }
}
