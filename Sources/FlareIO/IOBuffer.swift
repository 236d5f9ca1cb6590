/// A page-aligned buffer from a ``BufferPool``, handed to the kernel for I/O.
///
/// It is a class, not a `~Copyable` struct: in-flight windows and reorder buffers keep
/// buffers in collections and child tasks take them over in closures, neither of which
/// Swift 6.3 allows for noncopyable values. Ownership is by convention: one holder at a
/// time, and an operation keeps its buffer referenced until the completion arrives. When
/// the last reference goes, the memory returns to its pool (never to the OS).
public final class IOBuffer: @unchecked Sendable {
    /// The buffer's first byte; aligned to ``BufferPool/alignmentBytes``.
    public let base: UnsafeMutableRawPointer
    /// Usable bytes.
    public let capacity: Int
    /// Bytes of meaningful data from `base`, as set by whoever filled the buffer.
    public var count: Int = 0

    private let pool: BufferPool?
    let index: Int

    init(base: UnsafeMutableRawPointer, capacity: Int, pool: BufferPool?, index: Int) {
        precondition(Int(bitPattern: base) % BufferPool.alignmentBytes == 0, "unaligned I/O buffer")
        self.base = base
        self.capacity = capacity
        self.pool = pool
        self.index = index
    }

    deinit {
        pool?.give(back: index)
    }

    /// The valid bytes, `base ..< base + count`.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// The whole buffer, for receiving into.
    public var space: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: capacity) }
}
