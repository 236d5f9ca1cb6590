import FlareCore
import FlareIO

extension ChunkTransport {
    /// Fetches a whole chunk into `buffer` from the first replica, in the manifest's order,
    /// whose bytes match the manifest's CRC32C. A wrong copy is counted in `metrics`.
    func fetch(_ chunk: ChunkRecord, into buffer: IOBuffer, metrics: Metrics) async throws(ChunkUnavailable) {
        precondition(buffer.capacity >= chunk.length, "buffer of \(buffer.capacity) bytes for a chunk of \(chunk.length)")
        var reasons: [String] = []
        for node in chunk.replicas {
            do {
                let crc = try await get(chunk.id, length: chunk.length, from: node, into: buffer)
                buffer.count = chunk.length
                if crc == chunk.crc32c { return }
                metrics.increment("flare_api_corrupt_chunks_total", labels: "node=\"\(node)\"")
                reasons.append("\(node): checksum mismatch")
            } catch {
                reasons.append(error.description)
            }
        }
        throw ChunkUnavailable(reasons: reasons)
    }
}
