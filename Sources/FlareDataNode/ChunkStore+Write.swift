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
        let buffer: IOBuffer
        do {
            buffer = try await pool.acquire()
        } catch {
            throw .busy(error)
        }
        temporaryCounter += 1
        let temporary = "\(directory)/tmp/\(id).\(temporaryPrefix).\(temporaryCounter)"
        let file: File
        do {
            file = try await File.open(temporary, flags: O_CREAT | O_EXCL | O_WRONLY, mode: 0o644, direct: usesDirectIO, on: loop)
        } catch {
            throw .from(error)
        }
        do {
            let footer = try await writeSegments(file, buffer: buffer, id: id, length: length, expectedCRC: expectedCRC, fill: fill)
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

    private func writeSegments(_ file: File, buffer: IOBuffer, id: ChunkID, length: Int, expectedCRC: UInt32,
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
            try await commit(file, tail, at: offset + received.heldFrom, id: id)
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

    /// Writes the last piece, syncs, renames into place and syncs the shard directory: one
    /// linked chain in FlareIO. A failed directory sync removes the committed name again: the
    /// client hears of a failure, so the chunk must not stay.
    private func commit(_ file: File, _ last: UnsafeRawBufferPointer, at offset: Int, id: ChunkID) async throws(ChunkStoreError) {
        let final = path(of: id)
        let shard: File
        do {
            shard = try await shardDirectory(id.shard)
        } catch {
            throw .from(error)
        }
        do {
            try await file.commit(last, at: UInt64(offset), renamingTo: final, syncing: shard)
        } catch {
            switch error.step {
            case .rename where error.error.kind == .alreadyExists:
                throw .alreadyExists(id)
            case .directorySync:
                await unlinkCommitted(final)
                throw .from(error.error)
            case .write, .dataSync, .rename:
                throw .from(error.error)
            }
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
        do {
            try await FileSystem.unlink(temporary, on: loop)
        } catch where error.kind == .notFound {
            // Renamed away before the failure (a failed directory sync), or never created.
        } catch {
            stats.cleanupFailed()
        }
    }

    private func unlinkCommitted(_ final: String) async {
        do {
            try await FileSystem.unlink(final, on: loop)
        } catch {
            stats.cleanupFailed()
        }
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
