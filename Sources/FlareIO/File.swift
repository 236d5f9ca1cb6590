import CLiburing
import Glibc

/// An open file whose reads and writes run on the loop's engine.
///
/// Reads and writes continue after short transfers here, so callers see whole transfers or
/// an error. With O_DIRECT every buffer, length and offset must be 4 KiB aligned; that is
/// checked before each submit.
public final class File: @unchecked Sendable {
    /// O_DIRECT alignment for buffers, offsets and lengths.
    public static let directAlignmentBytes = 4096
    /// The `O_DIRECT` open flag, which Glibc does not export to Swift (it is GNU-only); for
    /// fault injectors that recognise direct opens. ``open(_:flags:mode:direct:on:)`` adds it.
    public static let directFlag: Int32 = flare_O_DIRECT

    /// The descriptor.
    public let fd: Int32
    /// The path it was opened with, for error messages.
    public let path: String
    /// Whether the file was opened with O_DIRECT.
    public let isDirect: Bool
    /// The loop its operations run on.
    public let loop: EventLoop
    private var closed = false

    private init(fd: Int32, path: String, isDirect: Bool, loop: EventLoop) {
        self.fd = fd
        self.path = path
        self.isDirect = isDirect
        self.loop = loop
    }

    deinit {
        if !closed { loop.closeDetached(fd) }
    }

    /// Opens `path` with `flags` (`O_CLOEXEC` is added); `direct` adds O_DIRECT.
    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o644, direct: Bool = false,
                            on loop: EventLoop) async throws(IOError) -> File {
        let allFlags = flags | O_CLOEXEC | (direct ? flare_O_DIRECT : 0)
        let result = await FileSystem.withPinnedPath(path) { pointer in
            await loop.perform(.openat(dirfd: flare_AT_FDCWD, path: pointer, flags: allFlags, mode: mode))
        }
        if result < 0 { throw IOError(errno: -result, operation: "open \(path)") }
        return File(fd: result, path: path, isDirect: direct, loop: loop)
    }

    /// Opens with O_DIRECT, or, where the filesystem refuses it (`EINVAL`: tmpfs on older
    /// kernels, some overlay and FUSE mounts), without it. ``isDirect`` tells which; callers
    /// that care log the fallback once.
    public static func openPreferringDirect(_ path: String, flags: Int32, mode: mode_t = 0o644,
                                            on loop: EventLoop) async throws(IOError) -> File {
        do {
            return try await open(path, flags: flags, mode: mode, direct: true, on: loop)
        } catch where error.kind == .invalidArgument {
            return try await open(path, flags: flags, mode: mode, direct: false, on: loop)
        }
    }

    /// Reads until `buffer` is full or the file ends; returns the bytes read.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) async throws(IOError) -> Int {
        checkAlignment(buffer.baseAddress!, buffer.count, offset)
        var done = 0
        while done < buffer.count {
            let result = await loop.perform(.read(fd: fd, buffer: buffer.baseAddress! + done,
                                                  count: buffer.count - done, offset: offset + UInt64(done)))
            if result == -EINTR || result == -EAGAIN { continue }
            if result < 0 { throw IOError(errno: -result, operation: "read \(path) at \(offset + UInt64(done))") }
            if result == 0 { break }
            done += Int(result)
            // A short O_DIRECT read ends at end of file; continuing would be misaligned.
            if isDirect && done % Self.directAlignmentBytes != 0 { break }
        }
        return done
    }

    /// Reads `buffer` as `piecesMax` concurrent reads of equal, block-aligned pieces, so one
    /// large read keeps several requests in the device queue. Returns the bytes read from the
    /// start of `buffer` (less than its size only at end of file).
    public func readConcurrently(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64, piecesMax: Int) async throws(IOError) -> Int {
        try await readConcurrently([ReadRegion(buffer: buffer, offset: offset)], piecesMax: piecesMax)[0]
    }

    /// Below this a piece is not split further: two 4 KiB reads cost more than one 8 KiB read.
    static let concurrentPieceMinBytes = 256 * 1024

    /// One destination of ``readConcurrently(_:piecesMax:)``: `buffer` is filled from `offset`.
    public struct ReadRegion {
        public var buffer: UnsafeMutableRawBufferPointer
        public var offset: UInt64

        public init(buffer: UnsafeMutableRawBufferPointer, offset: UInt64) {
            self.buffer = buffer
            self.offset = offset
        }
    }

    /// Reads several regions at once, each split into at most `piecesMax` block-aligned
    /// pieces (none under 256 KiB), all in flight together (one submit, one wait). Returns the bytes read into each
    /// region from its start: less than its size only where the file ends inside it.
    public func readConcurrently(_ regions: [ReadRegion], piecesMax: Int) async throws(IOError) -> [Int] {
        let block = Self.directAlignmentBytes
        var pieces: [(region: Int, start: Int, count: Int)] = []
        for (index, region) in regions.enumerated() {
            let pieceBytes = max(Self.concurrentPieceMinBytes, (region.buffer.count / max(1, piecesMax) + block - 1) / block * block)
            for start in stride(from: 0, to: region.buffer.count, by: pieceBytes) {
                pieces.append((index, start, min(pieceBytes, region.buffer.count - start)))
            }
        }
        if regions.count == 1, pieces.count == 1, let region = regions.first {
            return [try await read(into: region.buffer, at: region.offset)]
        }
        let outcomes = await withTaskGroup(of: PieceOutcome.self) { group -> [PieceOutcome] in
            for (index, piece) in pieces.enumerated() {
                let region = regions[piece.region]
                // Disjoint slices of the caller's buffers, read on this same loop.
                let space = LoopConfined(UnsafeMutableRawBufferPointer(rebasing: region.buffer[piece.start..<(piece.start + piece.count)]))
                let offset = region.offset + UInt64(piece.start)
                group.addTask { await self.readPiece(index, space, at: offset) }
            }
            var outcomes: [PieceOutcome] = []
            outcomes.reserveCapacity(pieces.count)
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted { $0.index < $1.index }
        }
        precondition(outcomes.count == pieces.count, "a piece of a concurrent read went missing")
        if let error = outcomes.lazy.compactMap(\.error).first { throw error }
        // A region's bytes count only up to its first short piece: past it lies end of file.
        var totals = [Int](repeating: 0, count: regions.count)
        var ended = [Bool](repeating: false, count: regions.count)
        for (outcome, piece) in zip(outcomes, pieces) where !ended[piece.region] {
            totals[piece.region] = piece.start + outcome.count
            if outcome.count < piece.count { ended[piece.region] = true }
        }
        return totals
    }

    /// One piece of ``readConcurrently(into:at:piecesMax:)``.
    private struct PieceOutcome: Sendable {
        var index: Int
        var count: Int
        var error: IOError?
    }

    private func readPiece(_ index: Int, _ piece: LoopConfined<UnsafeMutableRawBufferPointer>, at offset: UInt64) async -> PieceOutcome {
        do {
            return PieceOutcome(index: index, count: try await read(into: piece.value, at: offset), error: nil)
        } catch {
            return PieceOutcome(index: index, count: 0, error: error)
        }
    }

    /// Writes all of `bytes` at `offset`, continuing after short writes.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) async throws(IOError) {
        checkAlignment(bytes.baseAddress!, bytes.count, offset)
        var done = 0
        while done < bytes.count {
            let result = await loop.perform(.write(fd: fd, buffer: bytes.baseAddress! + done,
                                                   count: bytes.count - done, offset: offset + UInt64(done)))
            if result == -EINTR || result == -EAGAIN { continue }
            if result < 0 { throw IOError(errno: -result, operation: "write \(path) at \(offset + UInt64(done))") }
            if result == 0 { throw IOError(errno: EIO, operation: "write \(path): no progress") }
            done += Int(result)
        }
    }

    /// Flushes data (and with `dataOnly == false` all metadata) to stable storage.
    public func sync(dataOnly: Bool = true) async throws(IOError) {
        let result = await loop.perform(.fsync(fd: fd, dataOnly: dataOnly))
        if result < 0 { throw IOError(errno: -result, operation: "\(dataOnly ? "fdatasync" : "fsync") \(path)") }
    }

    /// Closes the file; errors from close (which can report a failed write-back) are thrown.
    public func close() async throws(IOError) {
        guard !closed else { return }
        closed = true
        let result = await loop.perform(.close(fd: fd))
        if result < 0 { throw IOError(errno: -result, operation: "close \(path)") }
    }

    /// Traps when an O_DIRECT transfer is misaligned: the kernel would fail it with EINVAL,
    /// far from the caller that got the arithmetic wrong.
    func checkAlignment(_ pointer: UnsafeRawPointer, _ count: Int, _ offset: UInt64) {
        guard isDirect else { return }
        precondition(Int(bitPattern: pointer) % Self.directAlignmentBytes == 0, "O_DIRECT buffer not aligned")
        precondition(count % Self.directAlignmentBytes == 0, "O_DIRECT length \(count) not aligned")
        precondition(offset % UInt64(Self.directAlignmentBytes) == 0, "O_DIRECT offset \(offset) not aligned")
    }
}

/// A value used only on one event loop, handed to a child task that runs on that loop.
struct LoopConfined<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
