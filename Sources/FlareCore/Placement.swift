/// Rendezvous (highest-random-weight) placement of chunks on data nodes.
///
/// Every node gets a score for a chunk from a hash of (chunk id, node name); nodes are tried
/// in descending score. Deterministic everywhere, and adding or removing a node moves only
/// the chunks whose top choice changed. The choice actually used is always recorded in the
/// manifest: reads never recompute it.
public struct Placement: Sendable {
    /// Node names (`host:port`), as configured.
    public let nodes: [String]
    private let nodeHashes: [UInt64]

    public init(nodes: [String]) {
        precondition(!nodes.isEmpty, "placement needs at least one node")
        self.nodes = nodes
        nodeHashes = nodes.map { fnv1a($0.utf8) }
    }

    /// Node indices in the order a chunk should try them.
    public func rank(_ id: ChunkID) -> [Int] {
        var scored = (0..<nodes.count).map { (index: $0, score: Self.score(id, nodeHashes[$0])) }
        scored.sort { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
        return scored.map(\.index)
    }

    /// The hash of a node's name (or id) that `score` takes; compute it once per node.
    public static func nodeHash(_ node: String) -> UInt64 { fnv1a(node.utf8) }

    /// The score of a node for a chunk: a 64-bit mix (splitmix64 finaliser) of both. Public so
    /// that weighted placement (FlareCluster) builds on the same hash instead of a second one.
    public static func score(_ id: ChunkID, _ nodeHash: UInt64) -> UInt64 {
        mix(id.high ^ mix(id.low ^ nodeHash))
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// 64-bit FNV-1a.
func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return hash
}
