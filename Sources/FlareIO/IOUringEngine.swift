import CLiburing
import Glibc

/// The io_uring engine: every operation is an SQE whose `user_data` is its token; one
/// `io_uring_enter` per loop tick submits the whole batch and collects completions.
final class IOUringEngine: IOEngine {
    /// SQ entries; the CQ is twice as large. Bounded: when the SQ is full the batch so far is
    /// submitted early (rare; the loop has at most this many operations per tick).
    static let ringEntries: UInt32 = 1024
    /// CQEs reaped per `peek_batch_cqe` call.
    static let reapBatchMax: UInt32 = 256

    private static let wakeToken = internalTokenBit | 1
    private static let linkTimeoutToken = internalTokenBit | 2
    private static let cancelToken = internalTokenBit | 3

    let kind = IOEngineKind.uring
    let wantsNonblockingSockets = false

    private var ring = io_uring()
    private let wakeFD: Int32
    private let wakeBuffer = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    private let cqes = UnsafeMutablePointer<UnsafeMutablePointer<io_uring_cqe>?>.allocate(
        capacity: Int(IOUringEngine.reapBatchMax))
    private var wakeArmed = false

    /// Creates a ring on the calling thread (it must be the loop thread: the ring is set up
    /// single-issuer when the kernel allows it).
    init() throws(IOError) {
        var params = io_uring_params()
        params.flags = flare_IORING_SETUP_SINGLE_ISSUER | flare_IORING_SETUP_COOP_TASKRUN
            | flare_IORING_SETUP_SUBMIT_ALL
        var result = io_uring_queue_init_params(Self.ringEntries, &ring, &params)
        if result == -EINVAL {
            // Older kernels lack these setup flags; a plain ring works the same, a little slower.
            params = io_uring_params()
            result = io_uring_queue_init_params(Self.ringEntries, &ring, &params)
        }
        if result < 0 {
            wakeBuffer.deallocate()
            cqes.deallocate()
            throw IOError(errno: -result, operation: "io_uring_queue_init")
        }
        wakeFD = eventfd(0, flare_EFD_CLOEXEC)
        if wakeFD < 0 {
            let error = Glibc.errno
            io_uring_queue_exit(&ring)
            wakeBuffer.deallocate()
            cqes.deallocate()
            throw IOError(errno: error, operation: "eventfd")
        }
        armWake()
    }

    /// Why io_uring cannot be used here, or `nil` when a ring can be created.
    static func unavailableReason() -> String? {
        if let text = readSmallTextFile("/proc/sys/kernel/io_uring_disabled"),
           let value = Int(text.trimmingWhitespace()), value != 0 {
            return "kernel.io_uring_disabled=\(value)"
        }
        var probeRing = io_uring()
        let result = io_uring_queue_init(2, &probeRing, 0)
        if result < 0 {
            let hint = result == -EPERM ? " (blocked by a seccomp profile or sysctl?)" : ""
            return "io_uring_setup failed: \(Errno.name(-result))\(hint)"
        }
        io_uring_queue_exit(&probeRing)
        return nil
    }

    func tryImmediately(_ op: IOOperation) -> Int32? { nil }

    func forget(_ fd: Int32) {}

    func enqueue(_ op: IOOperation, token: UInt64, timeout: UnsafeMutablePointer<__kernel_timespec>?, attempted: Bool) {
        if case .sleep = op {
            let sqe = nextSQE(reserving: 1)
            flare_io_uring_prep_timeout(sqe, timeout!)
            flare_io_uring_sqe_set_data64(sqe, token)
            return
        }
        let sqe = nextSQE(reserving: timeout == nil ? 1 : 2)
        prepare(sqe, op)
        flare_io_uring_sqe_set_data64(sqe, token)
        if let timeout {
            flare_io_uring_sqe_set_flags(sqe, flare_IOSQE_IO_LINK)
            let timeoutSQE = nextSQE(reserving: 1)
            flare_io_uring_prep_link_timeout(timeoutSQE, timeout)
            flare_io_uring_sqe_set_data64(timeoutSQE, Self.linkTimeoutToken)
        }
    }

    func enqueueChain(_ ops: [IOOperation], firstToken: UInt64) {
        precondition(ops.count <= Int(Self.ringEntries))
        reserve(UInt32(ops.count))
        for (index, op) in ops.enumerated() {
            let sqe = nextSQE(reserving: 1)
            prepare(sqe, op)
            flare_io_uring_sqe_set_data64(sqe, firstToken + UInt64(index))
            if index < ops.count - 1 { flare_io_uring_sqe_set_flags(sqe, flare_IOSQE_IO_LINK) }
        }
    }

    func cancel(token: UInt64) {
        let sqe = nextSQE(reserving: 1)
        flare_io_uring_prep_cancel64(sqe, token)
        flare_io_uring_sqe_set_data64(sqe, Self.cancelToken)
    }

    func poll(block: Bool, into completions: inout [IOCompletion]) throws(IOError) {
        let result = block ? io_uring_submit_and_wait(&ring, 1) : io_uring_submit_and_get_events(&ring)
        if result < 0 && result != -EINTR && result != -EAGAIN && result != -EBUSY && result != -ETIME {
            throw IOError(errno: -result, operation: "io_uring_enter")
        }
        while true {
            let count = io_uring_peek_batch_cqe(&ring, cqes, Self.reapBatchMax)
            if count == 0 { break }
            for i in 0..<Int(count) {
                let cqe = cqes[i]!
                let token = flare_io_uring_cqe_get_data64(cqe)
                if token & internalTokenBit == 0 {
                    completions.append(IOCompletion(token: token, result: cqe.pointee.res))
                } else if token == Self.wakeToken {
                    wakeArmed = false
                }
            }
            flare_io_uring_cq_advance(&ring, count)
        }
        if !wakeArmed { armWake() }
    }

    func wake() {
        var one: UInt64 = 1
        // A full eventfd counter (EAGAIN) still means a wake-up is pending, which is all we need.
        _ = Glibc.write(wakeFD, &one, 8)
    }

    func shutdown() {
        io_uring_queue_exit(&ring)
        Glibc.close(wakeFD)
        wakeBuffer.deallocate()
        cqes.deallocate()
    }

    private func armWake() {
        let sqe = nextSQE(reserving: 1)
        flare_io_uring_prep_read(sqe, wakeFD, wakeBuffer, 8, 0)
        flare_io_uring_sqe_set_data64(sqe, Self.wakeToken)
        wakeArmed = true
    }

    /// An SQE to fill; submits the batch early if fewer than `count` entries are left, so a
    /// linked pair or chain never straddles two submissions.
    private func nextSQE(reserving count: UInt32) -> UnsafeMutablePointer<io_uring_sqe> {
        reserve(count)
        guard let sqe = flare_io_uring_get_sqe(&ring) else {
            preconditionFailure("io_uring SQ full right after a submit")
        }
        return sqe
    }

    private func reserve(_ count: UInt32) {
        if io_uring_sq_space_left(&ring) < count {
            _ = io_uring_submit(&ring)
        }
    }

    private func prepare(_ sqe: UnsafeMutablePointer<io_uring_sqe>, _ op: IOOperation) {
        switch op {
        case .nop:
            flare_io_uring_prep_nop(sqe)
        case let .recv(fd, buffer, count):
            flare_io_uring_prep_recv(sqe, fd, buffer, count, 0)
        case let .send(fd, buffer, count):
            flare_io_uring_prep_send(sqe, fd, buffer, count, Int32(MSG_NOSIGNAL))
        case let .accept(fd):
            flare_io_uring_prep_accept(sqe, fd, Int32(SOCK_CLOEXEC.rawValue))
        case let .connect(fd, address, length):
            flare_io_uring_prep_connect(sqe, fd, address, length)
        case let .shutdown(fd, how):
            flare_io_uring_prep_shutdown(sqe, fd, how)
        case let .close(fd):
            flare_io_uring_prep_close(sqe, fd)
        case let .read(fd, buffer, count, offset):
            flare_io_uring_prep_read(sqe, fd, buffer, UInt32(clamping: count), offset)
        case let .write(fd, buffer, count, offset):
            flare_io_uring_prep_write(sqe, fd, buffer, UInt32(clamping: count), offset)
        case let .fsync(fd, dataOnly):
            flare_io_uring_prep_fsync(sqe, fd, dataOnly ? IORING_FSYNC_DATASYNC : 0)
        case let .openat(dirfd, path, flags, mode):
            flare_io_uring_prep_openat(sqe, dirfd, path, flags, mode)
        case let .renameat(oldDirfd, oldPath, newDirfd, newPath, flags):
            flare_io_uring_prep_renameat(sqe, oldDirfd, oldPath, newDirfd, newPath, flags)
        case let .unlinkat(dirfd, path, flags):
            flare_io_uring_prep_unlinkat(sqe, dirfd, path, flags)
        case let .mkdirat(dirfd, path, mode):
            flare_io_uring_prep_mkdirat(sqe, dirfd, path, mode)
        case let .statx(dirfd, path, flags, mask, buffer):
            flare_io_uring_prep_statx(sqe, dirfd, path, flags, mask, buffer)
        case .sleep:
            preconditionFailure("sleep is prepared by enqueue")
        }
    }
}
