import Dispatch
import Synchronization

/// The metadata store has more requests waiting than it takes.
public struct MetadataBusy: Error, CustomStringConvertible {
    public let queuedMax: Int
    public var description: String { "metadata store busy: \(queuedMax) requests already waiting" }
}

/// A unit of work for a metadata thread: `execute` runs it (inside the group's
/// transaction for writes) and says whether it succeeded; `deliver` resumes the caller.
struct Job: @unchecked Sendable {
    let write: Bool
    /// Whether the write must be on stable storage before the caller hears back.
    var durable = true
    let execute: (SQLiteDatabase) -> Bool
    let fail: (Error) -> Void
    let deliver: () -> Void
}

final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// A metadata thread's inbox, holding at most `jobsMax` jobs.
final class JobQueue: @unchecked Sendable {
    let jobsMax: Int
    private let jobs = Mutex<(pending: [Job], stopping: Bool)>(([], false))
    private let signal = DispatchSemaphore(value: 0)

    init(jobsMax: Int) {
        precondition(jobsMax > 0)
        self.jobsMax = jobsMax
    }

    /// Queues a job; false (and nothing queued) when `jobsMax` are already waiting.
    func push(_ job: Job) -> Bool {
        let queued = jobs.withLock { state -> Bool in
            guard state.pending.count < jobsMax else { return false }
            state.pending.append(job)
            return true
        }
        if queued { signal.signal() }
        return queued
    }

    /// Every queued job, waiting for one; `nil` once stopped and drained.
    func takeAll() -> [Job]? {
        while true {
            signal.wait()
            let (taken, stopping) = jobs.withLock { state -> ([Job], Bool) in
                defer { state.pending.removeAll(keepingCapacity: true) }
                return (state.pending, state.stopping)
            }
            if !taken.isEmpty { return taken }
            if stopping { return nil }
        }
    }

    func stop() {
        jobs.withLock { $0.stopping = true }
        signal.signal()
    }
}
