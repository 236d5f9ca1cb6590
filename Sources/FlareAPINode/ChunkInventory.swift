import FlareCore

/// What garbage collection needs of the data nodes: which chunks a node has held for a
/// while, and a delete. `DataNodeClient` is the HTTP implementation; the GC tests use one in
/// memory, so that the interleavings with uploads are driven step by step.
///
/// Calls are made from the loop that owns the inventory.
protocol ChunkInventory: AnyObject, Sendable {
    /// Ids of the chunks `node` holds whose bytes it wrote at least `seconds` ago, by the
    /// node's own clock (an api clock that is off cannot make a fresh chunk look old).
    func chunkIDs(olderThanSeconds seconds: Int, on node: String) async throws(ChunkInventoryError) -> [ChunkID]
    /// Deletes a copy; true when it is gone (also when it was never there).
    func delete(_ id: ChunkID, on node: String) async -> Bool
}

/// Why a node's listing of old chunks could not be had.
enum ChunkInventoryError: Error, Sendable, CustomStringConvertible {
    /// Unreachable, timed out, an error status, a listing cut short.
    case failed(node: String, reason: String)
    /// More ids than one pass takes (``DataNodeClient/listedChunksMax``): refused whole
    /// rather than cut, since a cut listing would leave the same tail out every pass.
    case tooMany(node: String, max: Int)
    /// A line that is not a chunk id: not a data node's answer.
    case malformed(node: String, line: String)

    var description: String {
        switch self {
        case .failed(let node, let reason): return "\(node): listing old chunks failed: \(reason)"
        case .tooMany(let node, let max): return "\(node) lists more than \(max) chunks older than the grace; garbage collection skips it"
        case .malformed(let node, let line): return "\(node): listing old chunks: '\(line.prefix(80))' is not a chunk id"
        }
    }
}
