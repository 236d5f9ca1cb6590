import FlareCore
import FlareIO
import Glibc

/// Reading: a committed chunk is opened, its footer checked, and handed out as a
/// ``ChunkReader``.
extension ChunkStore {
    /// Opens a committed chunk and checks its footer.
    ///
    /// `prefetchAt`, a data offset the caller is about to stream from, reads the segment
    /// holding it together with the footer, in one round of concurrent reads: a whole GET of a
    /// chunk of up to one segment then costs one trip to the disk, not two.
    ///
    /// `buffers`, where the reader's one buffer comes from: by default the store's pool; the
    /// scrubber passes its own, so that it never takes a buffer from clients.
    ///
    /// A chunk whose file or footer fails a check is moved to the quarantine before the
    /// error is thrown (``moveToQuarantine(_:_:)``): this read is the last that sees it.
    public func open(_ id: ChunkID, prefetchAt prefetchOffset: Int? = nil,
                     buffers: BufferPool? = nil) async throws(ChunkStoreError) -> ChunkReader {
        let path = path(of: id)
        let file: File
        do {
            if usesDirectIO {
                file = try await File.openPreferringDirect(path, flags: O_RDONLY, on: loop)
            } else {
                file = try await File.open(path, flags: O_RDONLY, on: loop)
            }
        } catch where error.kind == .notFound {
            throw .notFound(id)
        } catch {
            throw .from(error)
        }
        var info = stat()
        guard fstat(file.fd, &info) == 0 else { throw .io(IOError(errno: Glibc.errno, operation: "fstat \(path)")) }
        let size = Int(info.st_size)
        guard size >= ChunkFormat.footerBytes && size % ChunkFormat.blockBytes == 0 else {
            throw await corrupt(id, ChunkCorruption("file size \(size) is not a chunk file size"))
        }
        let paddedData = size - ChunkFormat.footerBytes
        let buffer: IOBuffer
        do {
            buffer = try await (buffers ?? pool).acquire()
        } catch {
            // The file closes itself as it goes: nothing was read, so there is nothing to report.
            throw .busy(error)
        }
        // Where the footer lands in the buffer: after a prefetched last segment (one contiguous
        // read to the end of the file), else in the block past the segment area.
        var footerAt = ChunkFormat.segmentBytes
        var prefetch: ChunkReader.Prefetch?
        var regions: [File.ReadRegion] = []
        if let prefetchOffset, prefetchOffset >= 0, prefetchOffset < paddedData {
            let segment = prefetchOffset / ChunkFormat.segmentBytes
            let segmentStart = segment * ChunkFormat.segmentBytes
            let segmentPadded = min(ChunkFormat.segmentBytes, paddedData - segmentStart)
            prefetch = ChunkReader.Prefetch(segment: segment, paddedBytes: segmentPadded, readBytes: 0)
            if segmentStart + segmentPadded == paddedData {
                footerAt = segmentPadded
                regions.append(File.ReadRegion(buffer: UnsafeMutableRawBufferPointer(rebasing: buffer.space[0..<(segmentPadded + ChunkFormat.footerBytes)]),
                                               offset: UInt64(segmentStart)))
            } else {
                regions.append(File.ReadRegion(buffer: UnsafeMutableRawBufferPointer(rebasing: buffer.space[0..<segmentPadded]),
                                               offset: UInt64(segmentStart)))
            }
        }
        let footerSpace = UnsafeMutableRawBufferPointer(rebasing: buffer.space[footerAt..<(footerAt + ChunkFormat.footerBytes)])
        if footerAt == ChunkFormat.segmentBytes {
            regions.append(File.ReadRegion(buffer: footerSpace, offset: UInt64(paddedData)))
        }
        let counts: [Int]
        do {
            // Four reads in flight per segment: one 4 MiB read leaves the device queue shallow.
            counts = try await file.readConcurrently(regions, piecesMax: ChunkReader.piecesPerSegment)
        } catch {
            throw .from(error)
        }
        let footerRead = footerAt == ChunkFormat.segmentBytes ? counts[counts.count - 1] : counts[0] - footerAt
        guard footerRead == ChunkFormat.footerBytes else {
            throw await corrupt(id, ChunkCorruption("footer truncated"))
        }
        if var read = prefetch {
            read.readBytes = min(counts[0], read.paddedBytes)
            prefetch = read
        }
        switch ChunkFooter.decode(UnsafeRawBufferPointer(footerSpace)) {
        case .failure(let corruption):
            throw await corrupt(id, corruption)
        case .success(let footer):
            guard footer.id == id, ChunkFormat.fileBytes(footer.length) == size else {
                throw await corrupt(id, ChunkCorruption(footer.id == id ? "footer length disagrees with file size" : "footer names chunk \(footer.id)"))
            }
            return ChunkReader(file: file, footer: footer, buffer: buffer, prefetch: prefetch, store: self)
        }
    }

    /// Counts a corrupt chunk, quarantines it, and returns the error to throw.
    func corrupt(_ id: ChunkID, _ corruption: ChunkCorruption) async -> ChunkStoreError {
        stats.corruptionFound()
        await moveToQuarantine(id, corruption)
        return .corrupt(id, corruption)
    }
}
