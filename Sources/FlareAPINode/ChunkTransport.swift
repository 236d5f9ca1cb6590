import FlareCore
import FlareIO

/// One chunk copy: a chunk id on a data node.
struct ChunkCopy: Sendable, Hashable, CustomStringConvertible {
    var chunk: ChunkID
    var node: String

    var description: String { "\(chunk)@\(node)" }
}

/// Why one exchange with one data node about one chunk failed.
enum ChunkTransportError: Error, Sendable, CustomStringConvertible {
    /// The node refused the request itself (a 4xx that is not about this node's state):
    /// another node would refuse it too.
    case refused(node: String, status: Int)
    /// This node could not do it now — unreachable, timed out, an error status, a short
    /// body — so another node may.
    case failed(node: String, reason: String)
    /// This node could not serve the chunk it was asked for, in the way `fault` names; another
    /// replica may.
    case unreadable(node: String, fault: ReplicaFault, reason: String)

    /// The node the exchange was with.
    var node: String {
        switch self {
        case .refused(let node, _), .failed(let node, _), .unreadable(let node, _, _): return node
        }
    }

    var description: String {
        switch self {
        case .refused(let node, let status): return "\(node): status \(status)"
        case .failed(let node, let reason), .unreadable(let node, _, let reason): return "\(node): \(reason)"
        }
    }
}

/// How a replica failed to serve a chunk: the `reason` label of `flare_api_bad_replicas_total`,
/// a closed set so that the metric keeps few series.
enum ReplicaFault: String, Sendable {
    /// The node could not be reached (refused connection, not a configured node).
    case connect
    /// Silent past the data-node timeout: connecting, before the first byte, or between bytes.
    case timeout
    /// 404: the node is up and has no such copy (lost, or quarantined by its scrubber).
    case missing
    /// An error status other than 404: a 5xx.
    case status
    /// A length other than the manifest's.
    case length
    /// The body stopped before its end.
    case shortBody = "short_body"
    /// Bytes whose CRC32C is not the manifest's.
    case checksum
    /// Anything else: a reset before the response, a malformed response.
    case error

    /// The node answered, and what it has is not a good copy (missing, wrong length, wrong
    /// bytes): the copy is to be made again, unlike a node that could not answer.
    var copyIsBad: Bool { self == .missing || self == .length || self == .checksum }
}

/// No node could store or serve a chunk: the reason each node tried gave.
struct ChunkUnavailable: Error, Sendable, CustomStringConvertible {
    let reasons: [String]

    var description: String { "no data node could serve the chunk: " + reasons.joined(separator: "; ") }
}

/// How the API node moves chunk copies to and from data nodes: one exchange with one node
/// per call. Placement, failover and verification are the pipelines' business, so the
/// pipelines are tested with an in-memory transport and run over HTTP.
///
/// Calls are made from the loop that owns the transport.
protocol ChunkTransport: AnyObject, Sendable {
    /// Stores `bytes` as chunk `id` on `node`; returns once the node has it durably.
    func put(_ id: ChunkID, _ bytes: UnsafeRawBufferPointer, crc32c: UInt32, on node: String) async throws(ChunkTransportError)
    /// Receives the whole chunk `id` of `length` bytes from `node` into `buffer` and returns
    /// the CRC32C of what arrived (computed as it lands; the caller compares it).
    func get(_ id: ChunkID, length: Int, from node: String, into buffer: IOBuffer) async throws(ChunkTransportError) -> UInt32
    /// Deletes a copy; true when it is gone (also when it was never there).
    func delete(_ id: ChunkID, on node: String) async -> Bool
}
