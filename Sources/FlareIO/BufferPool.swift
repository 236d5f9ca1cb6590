import Glibc

/// A bounded pool of page-aligned buffers, allocated and touched once at start.
///
/// First writes to fresh pages are slow on these machines (~3 µs per 4 KiB page, see
/// shared/notes), so every page is written once here and the memory is never handed back
/// to the OS. ``acquire()`` waits when the pool is empty; that wait is what pushes back on a
/// client through TCP instead of growing the heap. The line of waiters is bounded too
/// (``waitersMax``): past it ``acquire()`` refuses at once with ``BufferPoolBusy``, which
/// callers answer as 503, instead of parking tasks without limit.
///
/// Loop-confined: one pool per event loop, used only from that loop's thread.
public final class BufferPool: @unchecked Sendable {
    /// Alignment of every buffer: a page, enough for O_DIRECT.
    public static let alignmentBytes = 4096
    /// A transparent huge page on x86-64 and most arm64 kernels.
    static let hugePageBytes = 2 << 20

    /// Bytes in each buffer.
    public let bufferBytes: Int
    /// Buffers in the pool.
    public let bufferCount: Int
    /// Tasks that may wait in ``acquire()`` at once.
    public let waitersMax: Int
    /// The default for ``waitersMax``. Generous: under load the line is a few tasks per
    /// buffer; a thousand waiting is an overload that waiting longer will not cure.
    public static let waitersMaxDefault = 1024

    private let memory: UnsafeMutableRawPointer
    private var free: [Int]
    private var waiters: [UnsafeContinuation<IOBuffer, Never>] = []
    private var waitersHead = 0
    private let loop: EventLoop?

    /// Creates `bufferCount` buffers of `bufferBytes` (rounded up to whole pages).
    /// - Parameters:
    ///   - loop: the loop the pool belongs to, checked on every call when given.
    ///   - waitersMax: tasks that may wait for a buffer at once (see ``acquire()``).
    ///   - prefaultCount: buffers whose pages are written now (default: all). The rest are
    ///     touched on first use; buffers are handed out most-recently-returned first, so a
    ///     large pool that is mostly idle stays mostly unresident.
    ///   - hugePages: back the pool with transparent huge pages where the kernel allows
    ///     (`madvise`). For O_DIRECT: the device then gets a few physically contiguous
    ///     segments per read or write instead of one per 4 KiB page, and a request is no
    ///     longer cut at the device's segment limit (254 pages, under 1 MiB, on virtio-blk).
    public init(bufferBytes: Int, bufferCount: Int, loop: EventLoop? = nil, waitersMax: Int = BufferPool.waitersMaxDefault,
                prefaultCount: Int? = nil, hugePages: Bool = false) {
        precondition(bufferBytes > 0 && bufferCount > 0 && waitersMax >= 0)
        let rounded = (bufferBytes + Self.alignmentBytes - 1) / Self.alignmentBytes * Self.alignmentBytes
        self.bufferBytes = rounded
        self.bufferCount = bufferCount
        self.waitersMax = waitersMax
        self.loop = loop
        var raw: UnsafeMutableRawPointer?
        let alignment = hugePages ? Self.hugePageBytes : Self.alignmentBytes
        let result = posix_memalign(&raw, alignment, rounded * bufferCount)
        precondition(result == 0 && raw != nil, "buffer pool of \(rounded * bufferCount) bytes: \(Errno.name(result))")
        memory = raw!
        // Before the first touch, so the prefault below already gets huge pages. Advice only:
        // where THP is off the pool works the same with small pages.
        if hugePages { _ = madvise(memory, rounded * bufferCount, MADV_HUGEPAGE) }
        memset(memory, 0, rounded * min(bufferCount, prefaultCount ?? bufferCount))
        free = Array((0..<bufferCount).reversed())
    }

    deinit {
        precondition(free.count == bufferCount, "buffer pool freed while \(bufferCount - free.count) buffers are out")
        Glibc.free(memory)
    }

    /// Buffers currently handed out.
    public var inUse: Int { bufferCount - free.count }

    /// Tasks waiting for a buffer.
    public var waiting: Int { waiters.count - waitersHead }

    /// A buffer now, or `nil` when all are in use — or when no more than `reserve` are free:
    /// work that already holds buffers asks with a reserve, so a share of the pool is always
    /// left for requests that hold none.
    public func tryAcquire(keeping reserve: Int = 0) -> IOBuffer? {
        loop?.assertInLoop()
        guard free.count > reserve, let index = free.popLast() else { return nil }
        return makeBuffer(index)
    }

    /// A buffer, waiting (first come, first served) until one is returned.
    /// - Throws: ``BufferPoolBusy`` at once when ``waitersMax`` tasks already wait.
    public func acquire() async throws(BufferPoolBusy) -> IOBuffer {
        if waiting == 0, let buffer = tryAcquire() { return buffer }
        guard waiting < waitersMax else {
            throw BufferPoolBusy(bufferCount: bufferCount, waitersMax: waitersMax)
        }
        return await withUnsafeContinuation { waiters.append($0) }
    }

    func give(back index: Int) {
        loop?.assertInLoop()
        if waitersHead < waiters.count {
            let waiter = waiters[waitersHead]
            waitersHead += 1
            if waitersHead == waiters.count { waiters.removeAll(keepingCapacity: true); waitersHead = 0 }
            waiter.resume(returning: makeBuffer(index))
        } else {
            free.append(index)
        }
    }

    private func makeBuffer(_ index: Int) -> IOBuffer {
        IOBuffer(base: memory + index * bufferBytes, capacity: bufferBytes, pool: self, index: index)
    }
}

/// Every buffer of a pool is in use and ``BufferPool/waitersMax`` tasks already wait for
/// one: the process is overloaded, and the request should be refused (503) and retried.
public struct BufferPoolBusy: Error, CustomStringConvertible, Sendable {
    /// Buffers in the pool, all in use.
    public let bufferCount: Int
    /// The waiters already in line.
    public let waitersMax: Int

    public var description: String {
        "all \(bufferCount) buffers in use and \(waitersMax) requests already waiting for one"
    }
}
