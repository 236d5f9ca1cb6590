import FlareCore
import FlareIO
import FlareMetrics

/// A replica that could not serve its chunk, as a read reports it (to the log) before trying
/// the next one.
struct BadReplica: Sendable, CustomStringConvertible {
    let chunk: ChunkID
    let node: String
    let fault: ReplicaFault
    let reason: String

    var description: String { "chunk \(chunk) on \(node) (\(fault.rawValue)): \(reason)" }
}

extension ChunkTransportError {
    /// The metric's label for a failed read.
    var fault: ReplicaFault {
        switch self {
        case .unreadable(_, let fault, _): return fault
        case .refused: return .status
        case .failed: return .error
        }
    }

    /// What went wrong, without the node's name.
    var reason: String {
        switch self {
        case .refused(_, let status): return "status \(status)"
        case .failed(_, let reason), .unreadable(_, _, let reason): return reason
        }
    }
}

extension ChunkTransport {
    /// Fetches a whole chunk into `buffer` from the first replica, in the manifest's order,
    /// whose bytes match the manifest's CRC32C. A replica that cannot serve it — unreachable,
    /// an error status, silent past the timeout, a wrong length, a short body, a checksum
    /// mismatch — is counted in `flare_api_bad_replicas_total{node,reason}` (a wrong copy also
    /// in `flare_api_corrupt_chunks_total`) and handed to `onBadReplica` (the reader logs it),
    /// and the same chunk is fetched from the next. Nothing of a chunk leaves the buffer until
    /// a replica's bytes have passed the check.
    /// - Throws: ``ChunkUnavailable`` with every replica's reason when none could serve it.
    func fetch(_ chunk: ChunkRecord, into buffer: IOBuffer, metrics: NodeMetrics,
               onBadReplica: (BadReplica) -> Void) async throws(ChunkUnavailable) {
        precondition(buffer.capacity >= chunk.length, "buffer of \(buffer.capacity) bytes for a chunk of \(chunk.length)")
        var reasons: [String] = []
        for node in chunk.replicas {
            let bad: BadReplica
            do {
                let crc = try await get(chunk.id, length: chunk.length, from: node, into: buffer)
                buffer.count = chunk.length
                if crc == chunk.crc32c { return }
                metrics.counter("flare_api_corrupt_chunks_total", ["node": "\(node)"]).increment()
                bad = BadReplica(chunk: chunk.id, node: node, fault: .checksum, reason: "checksum mismatch")
                reasons.append("\(node): checksum mismatch")
            } catch {
                bad = BadReplica(chunk: chunk.id, node: node, fault: error.fault, reason: error.reason)
                reasons.append(error.description)
            }
            metrics.counter("flare_api_bad_replicas_total", ["node": "\(node)", "reason": bad.fault.rawValue]).increment()
            onBadReplica(bad)
        }
        throw ChunkUnavailable(reasons: reasons)
    }
}
