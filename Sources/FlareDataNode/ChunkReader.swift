import FlareCore
import FlareIO

/// An open, footer-checked chunk. Streams any byte range, verifying each 4 MiB segment's
/// CRC32C before a byte of it is handed on.
public final class ChunkReader: @unchecked Sendable {
    public let footer: ChunkFooter
    private let file: File
    private let buffer: IOBuffer
    /// The store it was opened from: a segment found corrupt is quarantined there.
    private let store: ChunkStore
    /// A segment already read into the start of the buffer when the chunk was opened; used
    /// once, by a stream that begins in it.
    private var prefetch: Prefetch?

    /// Concurrent reads per segment: one 4 MiB read leaves the device queue shallow.
    static let piecesPerSegment = 4

    /// A segment read ahead by ``ChunkStore/open(_:prefetchAt:)``.
    struct Prefetch {
        var segment: Int
        var paddedBytes: Int
        var readBytes: Int
    }

    init(file: File, footer: ChunkFooter, buffer: IOBuffer, prefetch: Prefetch?, store: ChunkStore) {
        self.file = file
        self.footer = footer
        self.buffer = buffer
        self.prefetch = prefetch
        self.store = store
    }

    /// Reads `range` of the chunk's data. `start` runs once the first segment has been read
    /// and verified (send the response head there), then `send` gets the bytes in order.
    /// A corrupt segment throws ``ChunkStoreError/corrupt(_:_:)``, after the chunk was moved to
    /// the quarantine; if it is not the first, `start` and some `send`s have already run, and
    /// the caller must abort the response.
    public func stream(_ range: Range<Int>, start: () async throws -> Void,
                       send: (UnsafeRawBufferPointer) async throws -> Void) async throws(ChunkStoreError) {
        precondition(range.lowerBound >= 0 && range.upperBound <= footer.length)
        if range.isEmpty {
            do { try await start() } catch { throw .source(error) }
            return
        }
        let first = range.lowerBound / ChunkFormat.segmentBytes
        let last = (range.upperBound - 1) / ChunkFormat.segmentBytes
        for segment in first...last {
            let segmentStart = segment * ChunkFormat.segmentBytes
            let count = min(ChunkFormat.segmentBytes, footer.length - segmentStart)
            let space = UnsafeMutableRawBufferPointer(rebasing: buffer.space[0..<ChunkFormat.padded(count)])
            let got: Int
            if let prefetched = prefetch, prefetched.segment == segment, segment == first {
                assert(prefetched.paddedBytes == space.count, "prefetched segment \(segment) has another size")
                got = prefetched.readBytes
            } else {
                do {
                    got = try await file.readConcurrently(into: space, at: UInt64(segmentStart), piecesMax: Self.piecesPerSegment)
                } catch {
                    throw .from(error)
                }
            }
            // Later segments reuse the buffer: the prefetched bytes are gone after this one.
            prefetch = nil
            let data = UnsafeRawBufferPointer(rebasing: space[0..<count])
            guard got >= count else {
                throw await store.corrupt(footer.id, ChunkCorruption("segment \(segment) truncated"))
            }
            guard CRC32C.checksum(data) == footer.segmentCRCs[segment] else {
                throw await store.corrupt(footer.id, ChunkCorruption("segment \(segment) checksum mismatch"))
            }
            let from = max(range.lowerBound, segmentStart) - segmentStart
            let to = min(range.upperBound, segmentStart + count) - segmentStart
            do {
                if segment == first { try await start() }
                try await send(UnsafeRawBufferPointer(rebasing: data[from..<to]))
            } catch {
                throw .source(error)
            }
        }
    }

    /// Closes the file; the buffer returns to the pool when the reader goes.
    public func close() async {
        do {
            try await file.close()
        } catch {
            // A close error after a read-only use changes nothing for the reader.
        }
    }
}
