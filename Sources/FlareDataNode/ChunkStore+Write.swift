import CLiburing
import FlareCore
import FlareIO
import Glibc

/// Writing: a chunk's body is received piece by piece into one buffer, checksummed as it
/// lands, written while the next piece arrives, and committed with its footer.
extension ChunkStore {
    /// Stores a chunk of `length` bytes pulled from `fill`, verifying its CRC32C against
    /// `expectedCRC` before anything becomes visible.
    ///
    /// - Parameter fill: fills the given buffer completely from the request body and
    ///   returns the byte count (less only if the body ended early).
    public func put(id: ChunkID, length: Int, expectedCRC: UInt32,
                    fill: (UnsafeMutableRawBufferPointer) async throws -> Int) async throws(ChunkStoreError) -> ChunkFooter {
        precondition(length >= 0 && ChunkFormat.segmentCount(length) <= ChunkFormat.segmentsMax)
        let buffer = await pool.acquire()
        temporaryCounter += 1
        let temporary = "\(directory)/tmp/\(id).\(temporaryPrefix).\(temporaryCounter)"
        let file: File
        do {
            file = try await File.open(temporary, flags: O_CREAT | O_EXCL | O_WRONLY, mode: 0o644, direct: usesDirectIO, on: loop)
        } catch {
            throw .from(error)
        }
        do {
            let footer = try await writeSegments(file, buffer: buffer, id: id, length: length, expectedCRC: expectedCRC,
                                                 temporary: temporary, fill: fill)
            stats.committed(fileBytes: ChunkFormat.fileBytes(length))
            return footer
        } catch {
            await discard(file, temporary)
            throw error
        }
    }

    /// Bytes received before they are handed to the disk: the write of one piece overlaps
    /// the arrival of the next, instead of the disk waiting for a whole segment.
    static let pieceBytes = 1 << 20

    private func writeSegments(_ file: File, buffer: IOBuffer, id: ChunkID, length: Int, expectedCRC: UInt32, temporary: String,
                               fill: (UnsafeMutableRawBufferPointer) async throws -> Int) async throws(ChunkStoreError) -> ChunkFooter {
        var total = CRC32C()
        var segmentCRCs: [UInt32] = []
        var offset = 0
        let segments = ChunkFormat.segmentCount(length)
        for segment in 0..<segments {
            let count = min(ChunkFormat.segmentBytes, length - offset)
            let isLast = segment == segments - 1
            // Every piece but the chunk's very last is written as soon as it has arrived; the
            // last one goes into the commit chain with the footer.
            // Checksums run on each piece as it lands, while it is still in the CPU cache; the
            // chunk's total is the segment's own when there is one segment.
            var segmentCRC = CRC32C()
            let received = await receiveSegment(file, buffer: buffer, count: count, at: offset, holdLastPiece: isLast, fill: fill) { bytes in
                segmentCRC.update(bytes)
                if segments > 1 { total.update(bytes) }
            }
            if let failure = received.failure { throw failure }
            guard received.bytes == count else { throw .source(ChunkBodyEnded(expected: length, received: offset + received.bytes)) }
            segmentCRCs.append(segmentCRC.value)
            if segments == 1 { total = segmentCRC }
            if !isLast {
                offset += count
                continue
            }
            guard total.value == expectedCRC else { throw .checksumMismatch(expected: expectedCRC, actual: total.value) }
            let footer = ChunkFooter(id: id, length: length, crc32c: total.value, segmentCRCs: segmentCRCs)
            let padded = ChunkFormat.padded(count)
            buffer.space[count..<padded].initializeMemory(as: UInt8.self, repeating: 0)
            footer.encode(into: UnsafeMutableRawBufferPointer(rebasing: buffer.space[padded..<(padded + ChunkFormat.footerBytes)]))
            let tail = UnsafeRawBufferPointer(rebasing: buffer.space[received.heldFrom..<(padded + ChunkFormat.footerBytes)])
            try await commit(file, tail, at: offset + received.heldFrom, id: id, temporary: temporary)
            return footer
        }
        preconditionFailure("a chunk has at least one segment")
    }

    /// What ``receiveSegment`` got: bytes received, where the held-back last piece starts,
    /// and the first failure (of the body or of a piece's write).
    private struct SegmentReceipt {
        var bytes = 0
        var heldFrom = 0
        var failure: ChunkStoreError?
    }

    /// Receives `count` bytes into the buffer piece by piece, writing each full piece (all
    /// 1 MiB, so O_DIRECT-aligned) while the next arrives. Waits for every write it started.
    private func receiveSegment(_ file: File, buffer: IOBuffer, count: Int, at offset: Int, holdLastPiece: Bool,
                                fill: (UnsafeMutableRawBufferPointer) async throws -> Int,
                                received: (UnsafeRawBufferPointer) -> Void) async -> SegmentReceipt {
        await withTaskGroup(of: ChunkStoreError?.self) { group -> SegmentReceipt in
            var receipt = SegmentReceipt()
            while receipt.bytes < count {
                let size = min(Self.pieceBytes, count - receipt.bytes)
                let piece = UnsafeMutableRawBufferPointer(rebasing: buffer.space[receipt.bytes..<(receipt.bytes + size)])
                let got: Int
                do {
                    got = try await fill(piece)
                } catch {
                    receipt.failure = .source(error)
                    break
                }
                let pieceStart = receipt.bytes
                received(UnsafeRawBufferPointer(rebasing: piece[0..<got]))
                receipt.bytes += got
                if got < size { break }
                if holdLastPiece && receipt.bytes == count {
                    receipt.heldFrom = pieceStart
                    break
                }
                let bytes = PieceBytes(UnsafeRawBufferPointer(piece))
                group.addTask { await self.writePiece(file, bytes, at: offset + pieceStart) }
            }
            for await failure in group where receipt.failure == nil {
                receipt.failure = failure
            }
            return receipt
        }
    }

    private func writePiece(_ file: File, _ bytes: PieceBytes, at offset: Int) async -> ChunkStoreError? {
        do {
            try await file.write(bytes.value, at: UInt64(offset))
            return nil
        } catch {
            return .from(error)
        }
    }

    /// Writes the last piece, syncs, renames into place and syncs the directory: one linked
    /// chain. A short write breaks the chain; the rest is then done step by step.
    private func commit(_ file: File, _ last: UnsafeRawBufferPointer, at offset: Int, id: ChunkID, temporary: String) async throws(ChunkStoreError) {
        let final = path(of: id)
        let directoryFD: Int32
        do {
            directoryFD = try shardDirectory(id.shard)
        } catch {
            throw .from(error)
        }
        let results = await FileSystem.withPinnedPath(temporary) { from in
            await FileSystem.withPinnedPath(final) { to in
                await loop.performChain([
                    .write(fd: file.fd, buffer: last.baseAddress!, count: last.count, offset: UInt64(offset)),
                    .fsync(fd: file.fd, dataOnly: true),
                    .renameat(oldDirfd: flare_AT_FDCWD, oldPath: from, newDirfd: flare_AT_FDCWD, newPath: to,
                              flags: IOOperation.renameNoReplace),
                    .fsync(fd: directoryFD, dataOnly: false),
                ])
            }
        }
        if results[0] >= 0 && results[0] < Int32(last.count) {
            try await finishStepByStep(file, last, at: offset, written: Int(results[0]), temporary: temporary, final: final,
                                       id: id, directoryFD: directoryFD)
            return
        }
        if results[0] < 0 { throw .from(IOError(errno: -results[0], operation: "write \(temporary)")) }
        if results[1] < 0 { throw .from(IOError(errno: -results[1], operation: "fdatasync \(temporary)")) }
        if results[2] == -EEXIST { throw .alreadyExists(id) }
        if results[2] < 0 { throw .from(IOError(errno: -results[2], operation: "rename to \(final)")) }
        if results[3] < 0 {
            await unlinkCommitted(final)
            throw .from(IOError(errno: -results[3], operation: "fsync \(directory)/chunks/\(id.shard)"))
        }
        do {
            try await file.close()
        } catch {
            throw .from(error)
        }
    }

    private func finishStepByStep(_ file: File, _ last: UnsafeRawBufferPointer, at offset: Int, written: Int,
                                  temporary: String, final: String, id: ChunkID, directoryFD: Int32) async throws(ChunkStoreError) {
        do {
            try await file.write(UnsafeRawBufferPointer(rebasing: last[written...]), at: UInt64(offset + written))
            try await file.sync(dataOnly: true)
            try await FileSystem.rename(temporary, to: final, noReplace: true, on: loop)
        } catch where error.kind == .alreadyExists {
            throw .alreadyExists(id)
        } catch {
            throw .from(error)
        }
        let synced = await loop.perform(.fsync(fd: directoryFD, dataOnly: false))
        if synced < 0 {
            await unlinkCommitted(final)
            throw .from(IOError(errno: -synced, operation: "fsync \(directory)/chunks/\(id.shard)"))
        }
        do {
            try await file.close()
        } catch {
            throw .from(error)
        }
    }

    /// Removes a failed write's temporary file. A failure here cannot be reported to the
    /// client (the original error is the one that matters); start-up removes leftovers.
    private func discard(_ file: File, _ temporary: String) async {
        do {
            try await file.close()
        } catch {
            stats.cleanupFailed()
        }
        let result = await FileSystem.withPinnedPath(temporary) {
            await loop.perform(.unlinkat(dirfd: flare_AT_FDCWD, path: $0, flags: 0))
        }
        if result < 0 && result != -ENOENT { stats.cleanupFailed() }
    }

    private func unlinkCommitted(_ final: String) async {
        let result = await FileSystem.withPinnedPath(final) { await loop.perform(.unlinkat(dirfd: flare_AT_FDCWD, path: $0, flags: 0)) }
        if result < 0 { stats.cleanupFailed() }
    }
}

/// The body ended before the declared length.
public struct ChunkBodyEnded: Error, CustomStringConvertible {
    public let expected: Int
    public let received: Int
    public var description: String { "body ended after \(received) of \(expected) bytes" }
}

/// A piece of a chunk buffer handed to a child task on the same loop (the buffer outlives
/// the task group that writes it).
struct PieceBytes: @unchecked Sendable {
    let value: UnsafeRawBufferPointer
    init(_ value: UnsafeRawBufferPointer) { self.value = value }
}
