import CLiburing
import Glibc
import Synchronization

/// One thread, one engine (an io_uring or an epoll instance), and a task executor that runs
/// Swift async code on that thread.
///
/// Tasks started with ``spawn(_:)`` (or any task preferring this executor) run their
/// nonisolated async code here, so per-connection state needs no locks. Each tick the loop
/// runs ready jobs, takes work handed over from other threads, submits every queued
/// operation with one engine call, reaps completions in a batch and only then resumes the
/// waiting tasks.
public final class EventLoop: TaskExecutor, @unchecked Sendable {
    /// Jobs run per tick before the loop checks for I/O again, so a busy task cannot starve I/O.
    static let jobsPerTickMax = 4096
    /// Operations the epoll engine may complete synchronously per tick before a task is
    /// made to wait its turn (io_uring always waits).
    static let immediateCompletionsPerTickMax = 64

    private struct Remote {
        var jobs: [UnownedJob] = []
        var cancels: [UInt64] = []
        var closes: [Int32] = []
        var sleeping = false
        var stopping = false
    }

    /// The engine this loop runs.
    public let engineKind: IOEngineKind
    /// A name for logs and the thread.
    public let name: String

    var engine: IOEngine!

    /// A seam for fault-injection tests: when set, it sees every operation before the engine
    /// does, and a non-nil answer becomes that operation's result (e.g. `-ENOSPC`, `-EIO`,
    /// or a short count). Loop-confined; `nil` in production.
    public var faultInjector: ((IOOperation) -> Int32?)?
    let operations = OperationTable()
    private var localJobs: [UnownedJob] = []
    private var runningJobs: [UnownedJob] = []
    private var completions: [IOCompletion] = []
    private var pendingCancels: [UInt64] = []
    private let remote = Mutex(Remote())
    private var thread = pthread_t()
    private var threadID = pthread_t()
    private var immediateBudget = EventLoop.immediateCompletionsPerTickMax

    private init(kind: IOEngineKind, name: String) {
        self.engineKind = kind
        self.name = name
    }

    /// Starts a loop thread with the given engine (`auto` probes io_uring first).
    /// - Throws: ``IOError`` when the engine cannot be created on the new thread.
    public static func start(engine kind: IOEngineKind, name: String = "flare-loop") throws(IOError) -> EventLoop {
        let concrete = kind.resolved().kind
        let loop = EventLoop(kind: concrete, name: name)
        let ready = ConditionLock()
        nonisolated(unsafe) var startError: IOError?
        nonisolated(unsafe) var started = false
        loop.thread = startThread(name: name) {
            loop.threadID = pthread_self()
            do throws(IOError) {
                // The ring is created on its own thread: it is set up single-issuer.
                if concrete == .uring {
                    loop.engine = try IOUringEngine()
                } else {
                    loop.engine = try EpollEngine()
                }
            } catch {
                startError = error
            }
            ready.withLock { started = true }
            ready.signal()
            if startError == nil { loop.run() }
        }
        ready.withLock { while !started { ready.wait() } }
        if let startError {
            pthread_join(loop.thread, nil)
            throw startError
        }
        return loop
    }

    /// Whether the caller is running on this loop's thread.
    public var inLoop: Bool { pthread_equal(pthread_self(), threadID) != 0 }

    /// Operations submitted to the engine whose completion has not been delivered yet: one
    /// per task parked in ``perform(_:timeout:)``, ``performChain(_:)`` or ``sleep(for:)``.
    /// Read-only, for tests that must see operations parked (or all resumed) before going on.
    /// Loop-confined: read it on the loop.
    public var operationsInFlight: Int {
        assertInLoop()
        return operations.inUse
    }

    /// Traps when called off the loop thread: loop-confined state is touched only here.
    @inline(__always)
    public func assertInLoop(file: StaticString = #fileID, line: UInt = #line) {
        precondition(inLoop, "must run on event loop \(name)", file: file, line: line)
    }

    /// Starts a task whose async code runs on this loop.
    @discardableResult
    public func spawn<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Task<T, Error> {
        Task(executorPreference: self) { try await body() }
    }

    /// Runs `body` on this loop and returns its result to the caller's context.
    public func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await spawn(body).value
    }

    /// Stops the loop after the current tick and waits for its thread to exit. Tasks still
    /// waiting for I/O are not resumed: stop a loop only when its work is done.
    public func shutdown() {
        remote.withLock { $0.stopping = true }
        engine.wake()
        if !inLoop { pthread_join(thread, nil) }
    }

    // MARK: - Executor

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if inLoop {
            localJobs.append(job)
            return
        }
        handOver { $0.jobs.append(job) }
    }

    /// Asks the loop to cancel an operation; safe from any thread (cancellation handlers run
    /// on whichever thread cancelled the task).
    func requestCancel(_ token: UInt64) {
        if inLoop {
            pendingCancels.append(token)
            return
        }
        handOver { $0.cancels.append(token) }
    }

    /// Closes a descriptor without waiting, from any thread: for `deinit`s of objects that
    /// were not closed explicitly. The engine forgets the descriptor first, on the loop.
    func closeDetached(_ fd: Int32) {
        if inLoop {
            engine.forget(fd)
            Glibc.close(fd)
            return
        }
        // A stopped loop takes no more work, so its closes would never run: objects that
        // outlive their loop (a store's cached directories) would leak their descriptors.
        var stopped = false
        handOver { state in
            if state.stopping {
                stopped = true
            } else {
                state.closes.append(fd)
            }
        }
        if stopped { Glibc.close(fd) }
    }

    /// Hands work from another thread to the loop, waking it only if it sleeps in the engine.
    private func handOver(_ add: (inout Remote) -> Void) {
        let needWake = remote.withLock { state -> Bool in
            add(&state)
            return state.sleeping
        }
        if needWake { engine.wake() }
    }

    // MARK: - The loop

    private func run() {
        defer { engine.shutdown() }
        while true {
            runJobs()
            let stop = takeRemoteWork()
            if stop { return }
            for token in pendingCancels { cancelIfLive(token) }
            pendingCancels.removeAll(keepingCapacity: true)
            let block = localJobs.isEmpty && remote.withLock { state -> Bool in
                if state.jobs.isEmpty && state.cancels.isEmpty && state.closes.isEmpty && !state.stopping {
                    state.sleeping = true
                    return true
                }
                return false
            }
            do {
                try engine.poll(block: block, into: &completions)
            } catch {
                fatalError("event loop \(name): \(error)")
            }
            if block { remote.withLock { $0.sleeping = false } }
            immediateBudget = Self.immediateCompletionsPerTickMax
            resumeCompleted()
        }
    }

    private func runJobs() {
        var ran = 0
        while !localJobs.isEmpty && ran < Self.jobsPerTickMax {
            swap(&localJobs, &runningJobs)
            for job in runningJobs {
                job.runSynchronously(on: asUnownedTaskExecutor())
            }
            ran += runningJobs.count
            runningJobs.removeAll(keepingCapacity: true)
        }
    }

    /// Moves work handed over by other threads into the loop; returns true when stopping.
    private func takeRemoteWork() -> Bool {
        remote.withLock { state -> Bool in
            localJobs.append(contentsOf: state.jobs)
            state.jobs.removeAll(keepingCapacity: true)
            pendingCancels.append(contentsOf: state.cancels)
            state.cancels.removeAll(keepingCapacity: true)
            for fd in state.closes {
                engine.forget(fd)
                Glibc.close(fd)
            }
            state.closes.removeAll(keepingCapacity: true)
            return state.stopping
        }
    }

    private func cancelIfLive(_ token: UInt64) {
        guard let (index, _) = operations.lookup(token) else { return }
        let slot = operations[index]
        guard slot.pointee.pending > 0 else { return }
        slot.pointee.cancelRequested = true
        engine.cancel(token: token)
    }

    /// Delivers reaped completions: results first, then the tasks are resumed (each resume
    /// only queues the task's job on this loop).
    private func resumeCompleted() {
        for completion in completions {
            guard let (index, position) = operations.lookup(completion.token) else { continue }
            let slot = operations[index]
            var result = completion.result
            if slot.pointee.isSleep && result == -ETIME { result = 0 }
            if result == -ECANCELED && slot.pointee.hasTimeout && !slot.pointee.cancelRequested {
                result = -ETIMEDOUT
            }
            slot.pointee.results[position] = result
            slot.pointee.pending -= 1
            if slot.pointee.pending == 0 {
                let continuation = slot.pointee.continuation!
                let results = slot.pointee.results
                operations.release(index)
                continuation.resume(returning: results)
            }
        }
        completions.removeAll(keepingCapacity: true)
    }

    // MARK: - Operations

    /// Runs one operation and returns its raw result (a count, or a negative errno).
    ///
    /// The caller stays suspended until the engine reports the completion, also when the
    /// task is cancelled (cancellation is forwarded to the engine and is best effort), so
    /// buffers and descriptors named by `op` stay valid for as long as the kernel uses them.
    public func perform(_ op: IOOperation, timeout: Duration? = nil) async -> Int32 {
        assertInLoop()
        if let faultInjector, let injected = faultInjector(op) { return injected }
        var attempted = false
        if immediateBudget > 0 {
            if let result = engine.tryImmediately(op) {
                immediateBudget -= 1
                return result
            }
            attempted = true
        }
        if case .sleep(let nanoseconds) = op {
            return await submit(.single(op, attempted: false), sleepNanoseconds: nanoseconds, timeout: nil)[0]
        }
        return await submit(.single(op, attempted: attempted), sleepNanoseconds: nil, timeout: timeout)[0]
    }

    /// Runs up to four operations as a linked chain: each starts only if the one before
    /// succeeded in full; the rest complete with `-ECANCELED`.
    public func performChain(_ ops: [IOOperation]) async -> OperationResults {
        assertInLoop()
        precondition(!ops.isEmpty && ops.count <= OperationTable.chainLengthMax)
        if let faultInjector,
           let failing = ops.indices.first(where: { faultInjector(ops[$0]) != nil }) {
            // The operations before the injected failure run for real; the chain ends there.
            var results = OperationResults()
            if failing > 0 {
                let ran = await submit(.chain(Array(ops[..<failing])), sleepNanoseconds: nil, timeout: nil)
                for index in 0..<failing { results[index] = ran[index] }
                let completeSoFar = (0..<failing).allSatisfy { index in
                    ran[index] >= 0 && ops[index].expectedCount.map { Int(ran[index]) == $0 } ?? true
                }
                guard completeSoFar else { return results }
            }
            results[failing] = faultInjector(ops[failing])!
            return results
        }
        return await submit(.chain(ops), sleepNanoseconds: nil, timeout: nil)
    }

    /// Suspends the task for `duration` on the loop's timer.
    public func sleep(for duration: Duration) async throws(IOError) {
        let nanoseconds = UInt64(max(0, duration.nanosecondsValue))
        _ = try Errno.check(await perform(.sleep(nanoseconds: nanoseconds)), "sleep")
    }

    /// What `submit` hands to the engine: one operation (no array on the hot path) or a chain.
    private enum Submission {
        /// `attempted`: the engine already tried it synchronously and it would have blocked.
        case single(IOOperation, attempted: Bool)
        case chain([IOOperation])

        var count: Int32 {
            switch self {
            case .single: return 1
            case .chain(let ops): return Int32(ops.count)
            }
        }
    }

    private func submit(_ submission: Submission, sleepNanoseconds: UInt64?, timeout: Duration?) async -> OperationResults {
        let index = operations.allocate()
        let slot = operations[index]
        slot.pointee.pending = submission.count
        slot.pointee.isSleep = sleepNanoseconds != nil
        var timespecPointer: UnsafeMutablePointer<__kernel_timespec>?
        if let nanoseconds = sleepNanoseconds ?? timeout.map({ UInt64(max(0, $0.nanosecondsValue)) }) {
            slot.pointee.timeout.tv_sec = Int64(nanoseconds / 1_000_000_000)
            slot.pointee.timeout.tv_nsec = Int64(nanoseconds % 1_000_000_000)
            slot.pointee.hasTimeout = timeout != nil
            // The slot's memory never moves, so the kernel may read this timespec at submit time.
            timespecPointer = (UnsafeMutableRawPointer(slot) + MemoryLayout<OperationSlot>.offset(of: \.timeout)!)
                .assumingMemoryBound(to: __kernel_timespec.self)
        }
        let token = operations.token(index)
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                slot.pointee.continuation = continuation
                switch submission {
                case let .single(op, attempted):
                    engine.enqueue(op, token: token, timeout: timespecPointer, attempted: attempted)
                case .chain(let ops):
                    engine.enqueueChain(ops, firstToken: token)
                }
            }
        } onCancel: {
            requestCancel(token)
        }
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating.
    var nanosecondsValue: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return product.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}
