import FlareCore

/// Where a chunk's copies go: weighted rendezvous order over node ids, zone-aware.
///
/// A value built once from the node list (rebuild it when the node table changes) and then
/// asked per chunk. Everything is deterministic: the answer depends only on the chunk id and
/// the set of nodes (ids, zones, weights), never on the order nodes were listed in, so any
/// api computes the same placement. The choice actually used is recorded in the manifest:
/// reads never recompute it.
///
/// Health is the caller's input: new chunks pass the suspect and down nodes in `excluding`;
/// reads put them last with `readOrder(replicas:health:)`.
public struct ReplicaPlacement: Sendable {
    /// The nodes, sorted by id (so that ties, and everything else, ignore input order).
    public let nodes: [ClusterNode]
    private let hashes: [UInt64]
    /// Each node's zone as a small number, so the zone rule is an array lookup per node.
    private let zoneNumbers: [Int]
    private let zoneCount: Int

    /// Checks the node list: at least one and at most `ClusterLimits.nodesMax` nodes, ids
    /// non-empty, at most `ClusterNode.idBytesMax` bytes and unique, weights > 0.
    public init(nodes: [ClusterNode]) throws(ClusterConfigurationError) {
        guard !nodes.isEmpty else { throw .noNodes }
        guard nodes.count <= ClusterLimits.nodesMax else {
            throw .tooManyNodes(count: nodes.count, max: ClusterLimits.nodesMax)
        }
        var seen = Set<String>()
        for node in nodes {
            guard !node.id.isEmpty, node.id.utf8.count <= ClusterNode.idBytesMax else { throw .invalidNodeID(node.id) }
            guard seen.insert(node.id).inserted else { throw .duplicateNode(node.id) }
            guard node.weight > 0 else { throw .invalidWeight(node: node.id, weight: node.weight) }
        }
        let sorted = nodes.sorted { $0.id < $1.id }
        var zones: [String: Int] = [:]
        self.nodes = sorted
        hashes = sorted.map { Placement.nodeHash($0.id) }
        zoneNumbers = sorted.map { node in
            if let number = zones[node.zone] { return number }
            zones[node.zone] = zones.count
            return zones.count - 1
        }
        zoneCount = zones.count
    }

    /// Every node, in the order a chunk prefers them (rendezvous order, weighted).
    public func ranked(_ chunk: ChunkID) -> [ClusterNode] {
        rankedIndices(chunk).map { nodes[$0] }
    }

    /// The ids of up to `replicas` nodes for a new chunk, best first, by ``nextCopy(_:tried:zonesInUse:)``
    /// over the nodes not in `excluding`: while those span at least `replicas` zones, no two
    /// copies share a zone. Fewer than `replicas` ids come back only when fewer nodes are
    /// eligible; what to do then (fail, or fall back to suspect nodes) is the caller's decision.
    public func choose(_ chunk: ChunkID, replicas: Int, excluding: Set<String> = []) -> [String] {
        precondition(replicas > 0, "a chunk needs at least one copy")
        let candidates = ranked(chunk).filter { !excluding.contains($0.id) }.map { CopyCandidate(node: $0.id, zone: $0.zone) }
        var tried = Set<Int>(), zones = Set<String>()
        while tried.count < replicas, let position = Self.nextCopy(candidates, tried: tried, zonesInUse: zones) {
            tried.insert(position)
            zones.insert(candidates[position].zone)
        }
        return tried.sorted().map { candidates[$0].node }
    }

    /// The node to send a chunk to after a write failed: by ``nextCopy(_:tried:zonesInUse:)``,
    /// the next node in rendezvous order that is neither kept, tried nor excluded, preferring
    /// one whose zone none of the kept copies is in.
    ///
    /// - Parameters:
    ///   - keeping: the copies that stay (stored, or in flight and not failed).
    ///   - tried: every node that already failed this chunk.
    ///   - excluding: nodes not to write to at all (suspect, down).
    /// - Returns: the node id, or nil when no node is left.
    public func replacement(for chunk: ChunkID, keeping: [String], tried: Set<String>,
                            excluding: Set<String> = []) -> String? {
        let kept = Set(keeping)
        let ranked = ranked(chunk)
        let zones = Set(ranked.filter { kept.contains($0.id) }.map(\.zone))
        let candidates = ranked.filter { !kept.contains($0.id) && !tried.contains($0.id) && !excluding.contains($0.id) }
            .map { CopyCandidate(node: $0.id, zone: $0.zone) }
        return Self.nextCopy(candidates, tried: [], zonesInUse: zones).map { candidates[$0].node }
    }

    /// Node indices, best first: ascending weighted key, ties by id (the array's order).
    private func rankedIndices(_ chunk: ChunkID) -> [Int] {
        var keyed = nodes.indices.map { (index: $0, key: WeightedRendezvous.key(chunk, nodeHash: hashes[$0], weight: nodes[$0].weight)) }
        keyed.sort { $0.key != $1.key ? $0.key < $1.key : $0.index < $1.index }
        return keyed.map(\.index)
    }
}
