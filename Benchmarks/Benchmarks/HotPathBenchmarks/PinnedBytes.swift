import Glibc

/// Page-aligned bytes that stay put for the life of a benchmark, every page written when
/// made (a first write to a fresh page costs ~3 µs here and must not be measured).
final class PinnedBytes: @unchecked Sendable {
    /// The first byte; page-aligned.
    let base: UnsafeMutableRawPointer
    /// Bytes from ``base``.
    let count: Int

    /// `count` bytes of a xorshift stream seeded by `seed` (checksums of constant bytes
    /// could take shortcuts that real chunks do not allow).
    init(count: Int, seed: UInt64) {
        precondition(count > 0)
        var raw: UnsafeMutableRawPointer?
        let result = posix_memalign(&raw, 4096, count)
        guard result == 0, let raw else { fatalError("posix_memalign(\(count)) failed: errno \(result)") }
        base = raw
        self.count = count
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        for offset in 0..<count {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            raw.storeBytes(of: UInt8(truncatingIfNeeded: state), toByteOffset: offset, as: UInt8.self)
        }
    }

    /// `text` as bytes (for HTTP heads).
    init(_ text: String) {
        let utf8 = Array(text.utf8)
        precondition(!utf8.isEmpty)
        var raw: UnsafeMutableRawPointer?
        let result = posix_memalign(&raw, 4096, utf8.count)
        guard result == 0, let raw else { fatalError("posix_memalign(\(utf8.count)) failed: errno \(result)") }
        utf8.withUnsafeBytes { raw.copyMemory(from: $0.baseAddress!, byteCount: utf8.count) }
        base = raw
        count = utf8.count
    }

    deinit { free(base) }

    /// `byteCount` bytes from `offset`.
    func bytes(from offset: Int = 0, count byteCount: Int) -> UnsafeRawBufferPointer {
        precondition(offset >= 0 && offset + byteCount <= count)
        return UnsafeRawBufferPointer(start: base + offset, count: byteCount)
    }

    /// All the bytes.
    var all: UnsafeRawBufferPointer { bytes(count: count) }
}
