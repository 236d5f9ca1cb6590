import CLiburing
import Glibc

/// A small, bounded set of threads that run blocking file system calls: the epoll engine's
/// file operations (regular files are always "ready" to epoll, so they cannot be made
/// asynchronous with it), and, for both engines, the calls neither can submit (see
/// ``EventLoop/runBlocking(_:)``).
final class BlockingPool: @unchecked Sendable {
    enum Job {
        /// One operation or a chain, reported through `deliver`.
        case operations([IOOperation], firstToken: UInt64)
        /// A call that reports its own result.
        case call(@Sendable () -> Void)
    }

    private let lock = ConditionLock()
    private var jobs: [Job] = []
    private var head = 0
    private var stopping = false
    private var threads: [pthread_t] = []
    private let deliver: @Sendable ([IOCompletion]) -> Void

    /// Starts `threadCount` threads; `deliver` is called on a pool thread with finished work.
    init(threadCount: Int, name: String, deliver: @escaping @Sendable ([IOCompletion]) -> Void) {
        self.deliver = deliver
        for i in 0..<threadCount {
            threads.append(startThread(name: "\(name)-\(i)") { [self] in self.work() })
        }
    }

    /// Queues one operation, or a chain that stops at the first failure or short transfer.
    func submit(_ ops: [IOOperation], firstToken: UInt64) {
        enqueue(.operations(ops, firstToken: firstToken))
    }

    /// Queues a call; it runs on a pool thread and must hand its result back itself.
    func run(_ call: @escaping @Sendable () -> Void) {
        enqueue(.call(call))
    }

    private func enqueue(_ job: Job) {
        lock.withLock { jobs.append(job) }
        lock.signal()
    }

    /// Lets the threads finish queued work and joins them.
    func stop() {
        lock.withLock { stopping = true }
        lock.broadcast()
        for thread in threads { pthread_join(thread, nil) }
    }

    private func work() {
        while true {
            lock.lock()
            while head == jobs.count && !stopping { lock.wait() }
            if head == jobs.count { lock.unlock(); return }
            let job = jobs[head]
            head += 1
            if head == jobs.count { jobs.removeAll(keepingCapacity: true); head = 0 }
            lock.unlock()
            switch job {
            case let .operations(ops, firstToken): deliver(Self.run(ops, firstToken: firstToken))
            case .call(let call): call()
            }
        }
    }

    private static func run(_ ops: [IOOperation], firstToken: UInt64) -> [IOCompletion] {
        var completions: [IOCompletion] = []
        var failed = false
        for (index, op) in ops.enumerated() {
            let token = firstToken + UInt64(index)
            if failed {
                completions.append(IOCompletion(token: token, result: -ECANCELED))
                continue
            }
            let result = BlockingSyscalls.perform(op)
            completions.append(IOCompletion(token: token, result: result))
            failed = result < 0 || op.expectedCount.map { Int(result) != $0 } ?? false
        }
        return completions
    }
}

extension IOOperation {
    /// The byte count a read or write must transfer in full for a chain to go on.
    var expectedCount: Int? {
        switch self {
        case let .read(_, _, count, _), let .write(_, _, count, _): return count
        default: return nil
        }
    }
}

/// Plain blocking system calls with the io_uring result convention (negative errno).
enum BlockingSyscalls {
    static func perform(_ op: IOOperation) -> Int32 {
        while true {
            let result = attempt(op)
            if result == -EINTR { continue }
            return result
        }
    }

    private static func attempt(_ op: IOOperation) -> Int32 {
        func check(_ value: Int) -> Int32 { value < 0 ? -Glibc.errno : Int32(clamping: value) }
        switch op {
        case .nop: return 0
        case let .read(fd, buffer, count, offset):
            return check(pread(fd, buffer, count, off_t(offset)))
        case let .write(fd, buffer, count, offset):
            return check(pwrite(fd, buffer, count, off_t(offset)))
        case let .fsync(fd, dataOnly):
            return check(Int(dataOnly ? fdatasync(fd) : fsync(fd)))
        case let .openat(dirfd, path, flags, mode):
            return check(Int(Glibc.openat(dirfd, path, flags, mode)))
        case let .renameat(oldDirfd, oldPath, newDirfd, newPath, flags):
            return check(Int(flare_renameat2(oldDirfd, oldPath, newDirfd, newPath, flags)))
        case let .unlinkat(dirfd, path, flags):
            return check(Int(Glibc.unlinkat(dirfd, path, flags)))
        case let .mkdirat(dirfd, path, mode):
            return check(Int(Glibc.mkdirat(dirfd, path, mode)))
        case let .statx(dirfd, path, flags, mask, buffer):
            return check(Int(flare_statx(dirfd, path, flags, mask, buffer)))
        case let .close(fd):
            return check(Int(Glibc.close(fd)))
        case let .shutdown(fd, how):
            return check(Int(Glibc.shutdown(fd, how)))
        case let .recv(fd, buffer, count):
            return check(Glibc.recv(fd, buffer, count, 0))
        case let .send(fd, buffer, count):
            return check(Glibc.send(fd, buffer, count, Int32(MSG_NOSIGNAL)))
        case let .accept(fd):
            return check(Int(flare_accept4(fd, Int32(SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue))))
        case let .connect(fd, address, length):
            return check(Int(Glibc.connect(fd, address, length)))
        case .sleep:
            preconditionFailure("sleep never runs on the blocking pool")
        }
    }
}
