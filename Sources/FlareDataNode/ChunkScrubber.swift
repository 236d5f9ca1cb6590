import FlareCore
import FlareIO
import FlareMetrics
import Logging

/// Re-reads every stored chunk on a slow schedule and verifies it, so that bit rot is found
/// while the other copies are still good, not when a client finally asks.
///
/// Every `--scrub-interval` a pass lists the chunks (``ChunkStore/ids()``) and reads each
/// whole one through the store's read path (O_DIRECT on the loop's engine): the footer's own
/// checks, each segment's CRC32C, and the CRC32C of all the content against the footer's. A
/// chunk that fails is moved to the quarantine (``ChunkStore/moveToQuarantine(_:_:)``) and
/// listed by `GET /chunks/corrupt` for the api's repair; a chunk deleted during the pass is
/// skipped. The reads are paced by a ``RateLimiter`` at `--scrub-bandwidth` and use one buffer
/// of the scrubber's own, so a pass never takes a buffer from clients and leaves the disk to
/// them but for that trickle.
///
/// The schedule survives restarts through ``ScrubState`` (`<data-dir>/scrub-state`): the next
/// pass is due one interval after the last one ended, or, on a directory that never had a
/// pass, one interval after the node first ran the scrubber on it. A pass cut short by a stop
/// is not recorded, so the next start runs it as soon as it is due (which it already is).
///
/// Runs as one task on one loop of the node (``run()``), until cancelled; loop-confined.
final class ChunkScrubber: @unchecked Sendable {
    /// What `--scrub-interval` and `--scrub-bandwidth` set.
    struct Settings: Sendable {
        /// Seconds from the end of one pass to the start of the next; above 0.
        var intervalSeconds: Double
        /// The most bytes read per second on average; 0: unlimited.
        var bytesPerSecond: Int
    }

    /// How one chunk fared.
    enum Outcome {
        case ok
        case corrupt(ChunkCorruption)
        /// Deleted since the listing.
        case gone
        /// An I/O error: the chunk is neither known good nor known bad, and stays.
        case failed(ChunkStoreError)
        case cancelled
    }

    /// Longest single sleep while waiting for a pass: the wall clock is read again after each,
    /// so a clock set forward (or a suspended VM resumed) is noticed within a minute.
    static let sleepSecondsMax: Int64 = 60
    /// Wait after a pass that could not list the chunks, at most (and at most one interval).
    static let retrySecondsMax = 60.0

    let store: ChunkStore
    let settings: Settings
    let dataDirectory: String
    let metrics: NodeMetrics
    let logger: Logger
    private var limiter: RateLimiter<ContinuousClock.Instant>

    init(store: ChunkStore, settings: Settings, dataDirectory: String, metrics: NodeMetrics, logger: Logger) {
        precondition(settings.intervalSeconds > 0 && settings.bytesPerSecond >= 0)
        self.store = store
        self.settings = settings
        self.dataDirectory = dataDirectory
        self.metrics = metrics
        self.logger = logger
        // One read at a time: the bucket holds what one read brings in, so a pass never runs
        // ahead of its rate by more than one buffer.
        limiter = RateLimiter(bytesPerSecond: settings.bytesPerSecond, burstBytes: store.pool.bufferBytes)
        Self.zeroSeries(metrics)
        store.stats.updateScrub { _ in }
    }

    var statePath: String { "\(dataDirectory)/\(ScrubState.fileName)" }
    private var intervalNanoseconds: Int64 { Int64(min(settings.intervalSeconds * 1e9, Double(Int64.max / 2))) }

    /// Passes on schedule until the task is cancelled. On the store's loop.
    func run() async {
        store.loop.assertInLoop()
        // Its own buffer, made (and touched) on the loop like every pool: see the type's doc.
        let buffers = BufferPool(bufferBytes: store.pool.bufferBytes, bufferCount: 1, loop: store.loop)
        var state = await loadState()
        let rate = settings.bytesPerSecond == 0 ? "no bandwidth limit" : "\(ByteSize.format(settings.bytesPerSecond))/s"
        let firstDue = state.nextPassDue(intervalNanoseconds: intervalNanoseconds, now: wallClockNanoseconds())
        logger.info("scrubbing every \(settings.intervalSeconds) s at \(rate); next pass in \(max(0, Double(firstDue - wallClockNanoseconds()) / 1e9)) s")
        while !Task.isCancelled {
            let due = state.nextPassDue(intervalNanoseconds: intervalNanoseconds, now: wallClockNanoseconds())
            logger.debug("next scrub pass in \(Double(due - wallClockNanoseconds()) / 1e9) s")
            guard await sleep(untilWallClock: due) else { return }
            switch await pass(buffers) {
            case .finished(let end, let seconds):
                state.lastPassEndNanoseconds = end
                await save(state)
                // After the save: a pass counted is one a restart knows of.
                metrics.counter("flare_datanode_scrub_passes_total").increment()
                store.stats.updateScrub { $0.passes += 1; $0.lastPassEndSeconds = Double(end) / 1e9 }
                metrics.gauge("flare_datanode_scrub_last_pass_duration_seconds").set(seconds)
            case .listingFailed:
                guard await sleep(for: .seconds(min(Self.retrySecondsMax, settings.intervalSeconds))) else { return }
            case .cancelled:
                return
            }
        }
    }

    /// How a pass ended.
    private enum PassEnd {
        /// Every chunk was checked: the wall-clock time it ended, and how long it took.
        case finished(Int64, seconds: Double)
        case listingFailed
        case cancelled
    }

    private func pass(_ buffers: BufferPool) async -> PassEnd {
        let started = ContinuousClock.now
        let ids: [ChunkID]
        do {
            ids = try await store.ids()
        } catch {
            logger.error("scrub pass could not list the chunks: \(error); retrying")
            return .listingFailed
        }
        store.stats.updateScrub { $0.total = ids.count; $0.checked = 0 }
        logger.info("scrub pass begins: \(ids.count) chunks")
        var counts = (ok: 0, corrupt: 0, gone: 0, failed: 0)
        for id in ids {
            if Task.isCancelled { return .cancelled }
            switch await verify(id, buffers) {
            case .ok:
                counts.ok += 1
                metrics.counter("flare_datanode_scrub_chunks_total", ["result": "ok"]).increment()
            case .corrupt:
                counts.corrupt += 1
                metrics.counter("flare_datanode_scrub_chunks_total", ["result": "corrupt"]).increment()
            case .gone:
                counts.gone += 1
            case .failed(let error):
                counts.failed += 1
                metrics.counter("flare_datanode_scrub_chunks_total", ["result": "error"]).increment()
                logger.error("scrub could not read chunk \(id): \(error); it stays, and the next pass tries again")
            case .cancelled:
                return .cancelled
            }
            store.stats.updateScrub { $0.checked += 1 }
        }
        let end = wallClockNanoseconds()
        let seconds = (ContinuousClock.now - started).secondsValue
        logger.info("scrub pass ended after \(seconds) s: \(counts.ok) good, \(counts.corrupt) corrupt (quarantined), \(counts.failed) unreadable, \(counts.gone) deleted meanwhile")
        return .finished(end, seconds: seconds)
    }

    /// Reads all of one chunk, segment by segment, pacing after each read.
    func verify(_ id: ChunkID, _ buffers: BufferPool) async -> Outcome {
        let reader: ChunkReader
        do {
            // Prefetching segment 0 reads it with the footer, in one trip to the disk.
            reader = try await store.open(id, prefetchAt: 0, buffers: buffers)
        } catch {
            return outcome(error)
        }
        let footer = reader.footer
        guard await pace(ChunkFormat.footerBytes + ChunkFormat.padded(min(footer.length, ChunkFormat.segmentBytes))) else {
            await reader.close()
            return .cancelled
        }
        var content = CRC32C()
        for segment in 0..<ChunkFormat.segmentCount(footer.length) {
            let start = segment * ChunkFormat.segmentBytes
            let range = start..<min(footer.length, start + ChunkFormat.segmentBytes)
            var failure: ChunkStoreError?
            do {
                try await reader.stream(range, start: {}, send: { content.update($0) })
            } catch {
                failure = error
            }
            // Paced whether or not it checked out: the disk did the read either way.
            if segment > 0, !(await pace(ChunkFormat.padded(range.count))) {
                await reader.close()
                return .cancelled
            }
            if let failure {
                await reader.close()
                return outcome(failure)
            }
        }
        await reader.close()
        // Each segment matched its own CRC; the footer's total is checked too, or a footer
        // whose segment list and total disagree would pass.
        guard content.value == footer.crc32c else {
            let corruption = ChunkCorruption("content crc32c=\(hex8(content.value)) disagrees with the footer's crc32c=\(hex8(footer.crc32c))")
            _ = await store.corrupt(id, corruption)
            return .corrupt(corruption)
        }
        return .ok
    }

    private func outcome(_ error: ChunkStoreError) -> Outcome {
        switch error {
        case .notFound: return .gone
        case .corrupt(_, let corruption): return .corrupt(corruption)
        case .io(let io) where io.kind == .cancelled && Task.isCancelled: return .cancelled
        default: return .failed(error)
        }
    }

    /// Counts `bytes` just read and waits for the rate to allow them; `false` when cancelled.
    private func pace(_ bytes: Int) async -> Bool {
        metrics.counter("flare_datanode_scrub_bytes_total").increment(by: bytes)
        let delay = limiter.delay(for: bytes, at: .now)
        guard delay > .zero else { return !Task.isCancelled }
        return await sleep(for: delay)
    }

    /// Sleeps until the wall clock reads `due`, in steps of at most ``sleepSecondsMax``;
    /// `false` when cancelled.
    private func sleep(untilWallClock due: Int64) async -> Bool {
        while true {
            let now = wallClockNanoseconds()
            if now >= due { return !Task.isCancelled }
            guard await sleep(for: .nanoseconds(min(due - now, Self.sleepSecondsMax * 1_000_000_000))) else { return false }
        }
    }

    /// A sleep on the loop's timer; `false` when cancelled (or, never seen, when the timer fails:
    /// the scrubber then stops rather than spin).
    private func sleep(for duration: Duration) async -> Bool {
        do {
            try await store.loop.sleep(for: duration)
            return true
        } catch {
            if !Task.isCancelled { logger.error("scrubber stops: its timer failed (\(error))") }
            return false
        }
    }

    /// The state in the data directory; a new one (schedule from now) written there when
    /// there is none, or when it cannot be read or parsed (logged: the next pass then comes
    /// one interval from now).
    private func loadState() async -> ScrubState {
        let fresh = ScrubState(sinceNanoseconds: wallClockNanoseconds())
        do {
            let bytes = try await FileSystem.contents(of: statePath, bytesMax: ScrubState.fileBytesMax, on: store.loop)
            if let state = ScrubState.parse(String(decoding: bytes, as: UTF8.self)) {
                if let end = state.lastPassEndNanoseconds {
                    store.stats.updateScrub { $0.lastPassEndSeconds = Double(end) / 1e9 }
                }
                return state
            }
            logger.warning("\(statePath) is malformed; the scrub schedule starts again from now")
        } catch where error.kind == .notFound {
            logger.info("no \(statePath) yet: the first scrub pass comes one interval (\(settings.intervalSeconds) s) from now")
        } catch {
            logger.warning("cannot read \(statePath) (\(error)); the scrub schedule starts again from now")
        }
        await save(fresh)
        return fresh
    }

    /// Writes the state durably; a failure is logged (a restart then schedules from an older
    /// state, or from its start), never fatal.
    private func save(_ state: ScrubState) async {
        do {
            try await FileSystem.replaceContents(of: statePath, with: Array(state.encoded.utf8), on: store.loop)
            try await FileSystem.syncDirectory(dataDirectory, on: store.loop)
        } catch {
            metrics.counter("flare_datanode_errors_total", ["kind": "scrub_state_\(error.name)"]).increment()
            logger.error("cannot write \(statePath): \(error)")
        }
    }

    /// Every series of the scrubber at 0, so /metrics shows them before the first pass.
    private static func zeroSeries(_ metrics: NodeMetrics) {
        for result in ["ok", "corrupt"] {
            metrics.counter("flare_datanode_scrub_chunks_total", ["result": result]).increment(by: 0)
        }
        metrics.counter("flare_datanode_scrub_bytes_total").increment(by: 0)
        metrics.counter("flare_datanode_scrub_passes_total").increment(by: 0)
    }
}
