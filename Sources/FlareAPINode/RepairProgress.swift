import FlareCore
import Synchronization

/// What the repair is doing, for `GET /admin/repair`, `/metrics` and `flare repair status`:
/// a plain value the worker updates with the time passed in, so tests drive it with any
/// clock.
struct RepairTally: Sendable, Equatable {
    enum Phase: String, Sendable, Codable {
        /// Nothing to do was found by the last pass.
        case idle
        /// Reading the manifests to count what the pass has to do.
        case scanning
        /// Copying.
        case copying
    }

    /// What one pass found to do and has done. Copies are counted by why they are made.
    struct Pass: Sendable, Equatable {
        var startedNanoseconds: Int64
        var started: Duration
        var chunksTotal = 0
        var bytesTotal = 0
        var chunksDone = 0
        var bytesDone = 0
        /// When copying began (after the count), for the rate.
        var copyingSince: Duration?
        /// Copies replacing one on a lost node (down long enough, gone, removed).
        var lost = 0
        /// Copies added to chunks with fewer than `--replicas`.
        var few = 0
        /// Copies moved to where the layout wants them (a node added, draining, reweighed).
        var misplaced = 0
        /// Copies replacing one found bad (a failed read, the scrubber).
        var bad = 0
    }

    var phase = Phase.idle
    var lostNodes: [String] = []
    var pass: Pass?
    /// Since this process started.
    var copies = 0
    var bytes = 0
    var failed = 0

    mutating func beginScan(at now: Duration, wallNanoseconds: Int64, lostNodes: [String]) {
        phase = .scanning
        self.lostNodes = lostNodes
        pass = Pass(startedNanoseconds: wallNanoseconds, started: now)
    }

    /// The count is in: `chunks` copies to make, of `bytes` in all.
    mutating func beginCopying(chunks: Int, bytes: Int, lost: Int, few: Int, misplaced: Int, bad: Int, at now: Duration) {
        precondition(pass != nil, "copying follows a scan")
        phase = chunks == 0 ? .idle : .copying
        pass!.chunksTotal = chunks
        pass!.bytesTotal = bytes
        pass!.lost = lost
        pass!.few = few
        pass!.misplaced = misplaced
        pass!.bad = bad
        pass!.copyingSince = now
    }

    mutating func copied(bytes count: Int) {
        copies += 1
        bytes += count
        guard pass != nil else { return }
        pass!.chunksDone += 1
        pass!.bytesDone += count
        // A pass finds more than its count when uploads add chunks meanwhile.
        pass!.chunksTotal = max(pass!.chunksTotal, pass!.chunksDone)
        pass!.bytesTotal = max(pass!.bytesTotal, pass!.bytesDone)
    }

    mutating func failedCopy() { failed += 1 }

    mutating func endPass() { phase = .idle }

    /// Bytes per second copied since copying began in this pass.
    func rate(at now: Duration) -> Double? {
        guard let pass, let since = pass.copyingSince else { return nil }
        let seconds = (now - since).secondsValue
        return seconds > 0 ? Double(pass.bytesDone) / seconds : nil
    }

    /// Seconds left at the rate so far: `nil` while counting or before anything was copied,
    /// `0` when nothing is left.
    func etaSeconds(at now: Duration) -> Double? {
        guard let pass else { return nil }
        switch phase {
        case .idle: return 0
        case .scanning: return nil
        case .copying:
            let left = pass.bytesTotal - pass.bytesDone
            if left <= 0 { return 0 }
            guard let rate = rate(at: now), rate > 0 else { return nil }
            return Double(left) / rate
        }
    }
}

/// The repair's tally shared between the worker (loop 0) and the admin API (any loop).
final class RepairProgress: Sendable {
    private let tally = Mutex(RepairTally())
    private let origin = ContinuousClock.now
    /// `--repair-bandwidth` in bytes per second, 0 for unlimited; shown with the progress.
    let bandwidthBytesPerSecond: Int

    init(bandwidthBytesPerSecond: Int) { self.bandwidthBytesPerSecond = bandwidthBytesPerSecond }

    /// Time on this process's monotonic clock, as the tally takes it.
    var now: Duration { ContinuousClock.now - origin }

    func update(_ change: (inout RepairTally) -> Void) { tally.withLock { change(&$0) } }

    var current: RepairTally { tally.withLock { $0 } }
}
