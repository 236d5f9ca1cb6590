import Glibc

/// Page-aligned memory from `posix_memalign`, every page written once when it is made.
///
/// Made once per benchmark, never per iteration: on these machines the first write to a
/// fresh page costs ~3 µs, which would otherwise be measured as network time.
public final class PinnedBuffer: @unchecked Sendable {
    /// Alignment of ``base``: one page.
    public static let alignmentBytes = 4096

    /// The first byte.
    public let base: UnsafeMutableRawPointer
    /// Bytes from ``base``.
    public let count: Int

    /// Allocates `count` bytes and writes `fill` to all of them.
    public init(count: Int, fill: UInt8) {
        precondition(count > 0)
        var raw: UnsafeMutableRawPointer?
        let result = posix_memalign(&raw, Self.alignmentBytes, count)
        guard result == 0, let raw else { fatalError("posix_memalign(\(count)) failed: errno \(result)") }
        memset(raw, Int32(fill), count)
        base = raw
        self.count = count
    }

    deinit { free(base) }

    /// The first `byteCount` bytes, for sending.
    public func bytes(_ byteCount: Int) -> UnsafeRawBufferPointer {
        precondition(byteCount <= count)
        return UnsafeRawBufferPointer(start: base, count: byteCount)
    }

    /// The whole buffer, for receiving into.
    public var space: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }
}
