import FlareIO
import FlareTestSupport
import Glibc
import Testing

/// Runs `body` on a fresh loop of `kind` and stops the loop afterwards.
func onLoop<T: Sendable>(_ kind: IOEngineKind, _ body: @escaping @Sendable (EventLoop) async throws -> T) async throws -> T {
    try skipIfUnavailable(kind)
    let loop = try EventLoop.start(engine: kind, name: "test-\(kind)")
    defer { loop.shutdown() }
    return try await loop.run { try await body(loop) }
}

/// Memory owned by a test, freed when it goes; used for payloads.
final class TestBytes: @unchecked Sendable {
    let pointer: UnsafeMutableRawBufferPointer

    init(count: Int, seed: UInt64 = 0) {
        pointer = .allocate(byteCount: max(count, 1), alignment: 4096)
        fill(seed: seed)
    }

    deinit { pointer.deallocate() }

    var count: Int { pointer.count }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(pointer) }

    /// Fills with a xorshift stream: cheap, and different for every seed.
    func fill(seed: UInt64) {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let words = pointer.count / 8
        let wordPointer = pointer.baseAddress!.assumingMemoryBound(to: UInt64.self)
        for i in 0..<words {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            wordPointer[i] = state
        }
        for i in (words * 8)..<pointer.count { pointer[i] = UInt8(truncatingIfNeeded: state >> (i % 8)) }
    }
}

/// A running 64-bit FNV-style checksum over 8-byte words, so both ends of a stream can be
/// compared without keeping the stream.
struct StreamChecksum {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    private var pending: [UInt8] = []

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        while !pending.isEmpty && index < bytes.count {
            pending.append(bytes[index]); index += 1
            if pending.count == 8 { mix(pending.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }); pending.removeAll() }
        }
        let base = bytes.baseAddress.map { $0 + index }
        let words = (bytes.count - index) / 8
        if let base {
            for w in 0..<words { mix(base.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self)) }
        }
        index += words * 8
        while index < bytes.count { pending.append(bytes[index]); index += 1 }
    }

    private mutating func mix(_ word: UInt64) {
        value = (value ^ word) &* 0x100_0000_01b3
    }
}

/// The ``IOError`` `body` throws, or `nil` when it succeeds (any other error is recorded).
func ioError(_ body: () async throws -> Void) async -> IOError? {
    do {
        try await body()
        return nil
    } catch let error as IOError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}
