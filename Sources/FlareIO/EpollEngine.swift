import CLiburing
import Glibc
import Synchronization

/// The epoll engine: imitates completions on kernels or containers without io_uring.
///
/// Socket operations are tried at once with nonblocking system calls; one that would block
/// is parked on its descriptor and retried when edge-triggered epoll reports readiness.
/// Because the attempt and the parking happen in the same synchronous call on the loop
/// thread, no readiness edge can slip in between (the race noted in shared/notes). File
/// operations run on a small blocking thread pool, since epoll cannot wait for files.
final class EpollEngine: IOEngine {
    /// Readiness events taken per `epoll_wait`.
    static let eventsMax: Int32 = 256
    /// Threads for blocking file I/O.
    static let fileThreads = 4

    private struct Parked {
        var token: UInt64
        var op: IOOperation
    }

    let kind = IOEngineKind.epoll
    let wantsNonblockingSockets = true

    private let epfd: Int32
    private let wakeFD: Int32
    private var events: UnsafeMutablePointer<epoll_event>
    private var readers: [Int32: [Parked]] = [:]
    private var writers: [Int32: [Parked]] = [:]
    private var registered: Set<Int32> = []
    /// Which descriptor a parked token waits on, for cancellation and timeouts.
    private var parkedFD: [UInt64: Int32] = [:]
    private var sleeping: Set<UInt64> = []
    private var timers = TimerHeap()
    private var ready: [IOCompletion] = []
    /// File operations finished by the pool threads, waiting for the loop to take them.
    private final class Inbox: Sendable {
        let completions = Mutex<[IOCompletion]>([])
    }
    private let finishedFileOps = Inbox()
    private var pool: BlockingPool!

    init() throws(IOError) {
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        if epfd < 0 { throw IOError(errno: Glibc.errno, operation: "epoll_create1") }
        wakeFD = eventfd(0, flare_EFD_CLOEXEC | flare_EFD_NONBLOCK)
        if wakeFD < 0 {
            let error = Glibc.errno
            Glibc.close(epfd)
            throw IOError(errno: error, operation: "eventfd")
        }
        events = .allocate(capacity: Int(Self.eventsMax))
        _ = flare_epoll_add(epfd, wakeFD, flare_EPOLLIN)
        pool = BlockingPool(threadCount: Self.fileThreads, name: "flare-file") { [finishedFileOps, wakeFD] done in
            finishedFileOps.completions.withLock { $0.append(contentsOf: done) }
            var one: UInt64 = 1
            _ = Glibc.write(wakeFD, &one, 8)
        }
    }

    func tryImmediately(_ op: IOOperation) -> Int32? {
        switch op {
        case .recv, .send, .accept:
            let result = Self.attempt(op)
            return result == -EAGAIN ? nil : result
        case .nop:
            return 0
        case let .close(fd):
            forget(fd)
            return BlockingSyscalls.perform(op)
        case .shutdown:
            return BlockingSyscalls.perform(op)
        default:
            return nil
        }
    }

    func enqueue(_ op: IOOperation, token: UInt64, timeout: UnsafeMutablePointer<__kernel_timespec>?, attempted: Bool) {
        let deadline = timeout.map { monotonicNanoseconds() + UInt64($0.pointee.tv_sec) * 1_000_000_000 + UInt64($0.pointee.tv_nsec) }
        switch op {
        case .recv, .send, .accept:
            // Parking right after a failed attempt is safe: no epoll_wait ran in between, so
            // no readiness edge can have been consumed.
            let result = attempted ? -EAGAIN : Self.attempt(op)
            if result == -EAGAIN {
                park(op, token: token, deadline: deadline)
            } else {
                ready.append(IOCompletion(token: token, result: result))
            }
        case let .connect(fd, address, length):
            let result = Glibc.connect(fd, address, length)
            if result == 0 {
                ready.append(IOCompletion(token: token, result: 0))
            } else if Glibc.errno == EINPROGRESS || Glibc.errno == EINTR {
                park(op, token: token, deadline: deadline)
            } else {
                ready.append(IOCompletion(token: token, result: -Glibc.errno))
            }
        case .sleep:
            sleeping.insert(token)
            timers.insert(.init(deadlineNanoseconds: deadline ?? 0, token: token))
        case .nop, .close, .shutdown:
            ready.append(IOCompletion(token: token, result: tryImmediately(op) ?? 0))
        case .read, .write, .fsync, .openat, .renameat, .unlinkat, .mkdirat, .statx:
            pool.submit([op], firstToken: token)
        }
    }

    func enqueueChain(_ ops: [IOOperation], firstToken: UInt64) {
        pool.submit(ops, firstToken: firstToken)
    }

    func cancel(token: UInt64) {
        if sleeping.remove(token) != nil {
            ready.append(IOCompletion(token: token, result: -ECANCELED))
        } else if let fd = parkedFD[token] {
            unpark(token: token, fd: fd, result: -ECANCELED)
        }
        // Operations on the file pool cannot be interrupted; their completion arrives as usual.
    }

    func poll(block: Bool, into completions: inout [IOCompletion]) throws(IOError) {
        takeFinished(into: &completions)
        var timeoutMs: Int32 = 0
        if block && completions.isEmpty {
            if let earliest = timers.earliest {
                let now = monotonicNanoseconds()
                timeoutMs = earliest <= now ? 0 : Int32(clamping: (earliest - now + 999_999) / 1_000_000)
            } else {
                timeoutMs = -1
            }
        }
        let count = epoll_wait(epfd, events, Self.eventsMax, timeoutMs)
        if count < 0 && Glibc.errno != EINTR {
            throw IOError(errno: Glibc.errno, operation: "epoll_wait")
        }
        for i in 0..<max(0, Int(count)) {
            let fd = flare_epoll_event_fd(events + i)
            let mask = flare_epoll_event_mask(events + i)
            if fd == wakeFD {
                var value: UInt64 = 0
                _ = Glibc.read(wakeFD, &value, 8)
                continue
            }
            if mask & (flare_EPOLLIN | flare_EPOLLERR | flare_EPOLLHUP | flare_EPOLLRDHUP) != 0 {
                retry(&readers, fd: fd)
            }
            if mask & (flare_EPOLLOUT | flare_EPOLLERR | flare_EPOLLHUP) != 0 {
                retry(&writers, fd: fd)
            }
        }
        fireTimers()
        takeFinished(into: &completions)
    }

    func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    func shutdown() {
        pool.stop()
        Glibc.close(wakeFD)
        Glibc.close(epfd)
        events.deallocate()
    }

    // MARK: - Parking

    private func park(_ op: IOOperation, token: UInt64, deadline: UInt64?) {
        let fd: Int32
        let isWrite: Bool
        switch op {
        case let .recv(descriptor, _, _), let .accept(descriptor): fd = descriptor; isWrite = false
        case let .send(descriptor, _, _), let .connect(descriptor, _, _): fd = descriptor; isWrite = true
        default: preconditionFailure("only socket operations park")
        }
        if !registered.contains(fd) {
            let events = flare_EPOLLIN | flare_EPOLLOUT | flare_EPOLLRDHUP | flare_EPOLLET
            if flare_epoll_add(epfd, fd, events) != 0 && Glibc.errno != EEXIST {
                ready.append(IOCompletion(token: token, result: -Glibc.errno))
                return
            }
            registered.insert(fd)
        }
        if isWrite {
            writers[fd, default: []].append(Parked(token: token, op: op))
        } else {
            readers[fd, default: []].append(Parked(token: token, op: op))
        }
        parkedFD[token] = fd
        if let deadline { timers.insert(.init(deadlineNanoseconds: deadline, token: token)) }
    }

    private func unpark(token: UInt64, fd: Int32, result: Int32) {
        parkedFD[token] = nil
        readers[fd]?.removeAll { $0.token == token }
        writers[fd]?.removeAll { $0.token == token }
        ready.append(IOCompletion(token: token, result: result))
    }

    /// Retries parked operations on a ready descriptor in order until one would block again.
    private func retry(_ waiters: inout [Int32: [Parked]], fd: Int32) {
        guard var queue = waiters[fd], !queue.isEmpty else { return }
        var done = 0
        for parked in queue {
            let result: Int32
            if case let .connect(socket, _, _) = parked.op {
                result = Self.connectResult(socket)
            } else {
                result = Self.attempt(parked.op)
            }
            if result == -EAGAIN { break }
            parkedFD[parked.token] = nil
            ready.append(IOCompletion(token: parked.token, result: result))
            done += 1
        }
        queue.removeFirst(done)
        waiters[fd] = queue
    }

    private func fireTimers() {
        let now = monotonicNanoseconds()
        while let entry = timers.popDue(now: now) {
            if sleeping.remove(entry.token) != nil {
                ready.append(IOCompletion(token: entry.token, result: -ETIME))
            } else if let fd = parkedFD[entry.token] {
                unpark(token: entry.token, fd: fd, result: -ETIMEDOUT)
            }
        }
    }

    private func takeFinished(into completions: inout [IOCompletion]) {
        completions.append(contentsOf: ready)
        ready.removeAll(keepingCapacity: true)
        finishedFileOps.completions.withLock { finished in
            completions.append(contentsOf: finished)
            finished.removeAll(keepingCapacity: true)
        }
    }

    /// Forgets a descriptor that is being closed, so a new one with the same number is
    /// registered afresh (the kernel drops a closed descriptor from the epoll set itself).
    func forget(_ fd: Int32) {
        if registered.remove(fd) != nil {
            _ = flare_epoll_del(epfd, fd)
        }
        for parked in (readers.removeValue(forKey: fd) ?? []) + (writers.removeValue(forKey: fd) ?? []) {
            parkedFD[parked.token] = nil
            ready.append(IOCompletion(token: parked.token, result: -EBADF))
        }
    }

    private static func attempt(_ op: IOOperation) -> Int32 {
        let result = BlockingSyscalls.perform(op)
        return result == -EWOULDBLOCK ? -EAGAIN : result
    }

    private static func connectResult(_ fd: Int32) -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { return -Glibc.errno }
        if error == EINPROGRESS || error == EALREADY { return -EAGAIN }
        return -error
    }
}
