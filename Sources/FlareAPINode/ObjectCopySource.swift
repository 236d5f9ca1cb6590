import FlareCore
import FlareHTTP
import FlareIO
import FlareMetrics
import Logging

/// The body of a server-side copy (S3's CopyObject and UploadPartCopy): `range` of a stored
/// object, read chunk by chunk from its replicas — each chunk verified against the manifest's
/// CRC32C and failed over like a GET's — and handed to the PUT pipeline as its `fill`.
///
/// The copy makes new chunks rather than sharing the source's: a chunk has one owner, which
/// is what lets a delete or an overwrite queue its chunks without asking who else uses them.
/// One source chunk is fetched at a time, into one buffer of the loop's copy pool, while the
/// writer's window is still sending the chunks before it.
final class ObjectCopySource {
    private let manifest: ObjectManifest
    private let range: Range<Int>
    private let starts: [Int]
    private let transport: ChunkTransport
    private let metrics: NodeMetrics
    private let logger: Logger
    private let readOrder: @Sendable ([String]) -> [String]
    private let onBadCopy: @Sendable (BadReplica) -> Void
    /// Holds one source chunk at a time.
    private let scratch: IOBuffer
    /// The next byte of the source to hand out.
    private var position: Int
    /// The chunk in `scratch`, when one is.
    private var held: Int?
    /// Why the copy stopped, when a source chunk could not be read.
    private(set) var failure: ChunkUnavailable?

    init(_ manifest: ObjectManifest, range: Range<Int>, scratch: IOBuffer, transport: ChunkTransport, metrics: NodeMetrics, logger: Logger,
         readOrder: @escaping @Sendable ([String]) -> [String], onBadCopy: @escaping @Sendable (BadReplica) -> Void) {
        precondition(range.lowerBound >= 0 && range.upperBound <= manifest.size, "copy range \(range) of an object of \(manifest.size) bytes")
        self.manifest = manifest
        self.range = range
        self.starts = manifest.chunkStarts
        self.scratch = scratch
        self.transport = transport
        self.metrics = metrics
        self.logger = logger
        self.readOrder = readOrder
        self.onBadCopy = onBadCopy
        self.position = range.lowerBound
    }

    /// Fills `buffer` with the next bytes of the range; fewer only at its end.
    func fill(_ buffer: UnsafeMutableRawBufferPointer) async throws(HTTPError) -> Int {
        var filled = 0
        while filled < buffer.count, position < range.upperBound {
            let index = ObjectManifest.chunk(containing: position, starts: starts)
            if held != index { try await fetch(index) }
            let chunkStart = starts[index]
            let from = position - chunkStart
            let count = min(buffer.count - filled, min(range.upperBound, chunkStart + scratch.count) - position)
            UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch.bytes[from..<(from + count)]))
            filled += count
            position += count
        }
        return filled
    }

    private func fetch(_ index: Int) async throws(HTTPError) {
        held = nil
        var chunk = manifest.chunks[index]
        chunk.replicas = readOrder(chunk.replicas)
        let logger = self.logger, onBadCopy = self.onBadCopy
        do throws(ChunkUnavailable) {
            try await transport.fetch(chunk, into: scratch, metrics: metrics) { bad in
                logger.warning("copy source: bad replica: \(bad); \(bad.node == chunk.replicas.last ? "no replica left" : "trying the next")")
                if bad.fault.copyIsBad { onBadCopy(bad) }
            }
        } catch {
            failure = error
            // The writer only carries body errors; the caller reads `failure` for the real cause.
            throw HTTPError.malformed(HTTPParseError(status: 503, "copy source chunk \(chunk.id) unreadable: \(error)"))
        }
        held = index
    }
}
