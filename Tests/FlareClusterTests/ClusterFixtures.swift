import FlareCluster
import FlareCore
import FlareTestSupport
import Foundation

/// Seeded random clusters and the naive solver the placement is checked against (Garage's
/// habit): rank by recomputing every node's weighted score from scratch, then enumerate every
/// set of copies and keep the best one that satisfies the invariants.
enum ClusterFixtures {
    static func nodeID(_ generator: inout SeededGenerator) -> String {
        let high = String(generator.next(), radix: 16), low = String(generator.next(), radix: 16)
        return String(repeating: "0", count: 16 - high.count) + high + String(repeating: "0", count: 16 - low.count) + low
    }

    /// A cluster of `count` nodes over up to `zonesMax` zones, weights 1...`weightMax`.
    static func cluster(_ count: Int, zonesMax: Int, weightMax: Int = 8, _ generator: inout SeededGenerator) -> [ClusterNode] {
        (0..<count).map { _ in
            ClusterNode(id: nodeID(&generator), zone: "z\(Int.random(in: 0..<zonesMax, using: &generator))",
                        weight: Int.random(in: 1...weightMax, using: &generator))
        }
    }

    static func chunks(_ count: Int, seed: UInt64) -> [ChunkID] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in ChunkID(high: generator.next(), low: generator.next()) }
    }

    /// Naive ranking: score = weight / −ln(u), u from the (chunk, node id) hash, highest first,
    /// ties by id. Written the "usual" way round, not as the implementation's −ln(u) / weight.
    static func naiveRanking(_ chunk: ChunkID, _ nodes: [ClusterNode]) -> [ClusterNode] {
        nodes.map { node -> (node: ClusterNode, score: Double) in
            let hash = Placement.score(chunk, Placement.nodeHash(node.id))
            let u = (Double(hash >> 11) + 0.5) / 9_007_199_254_740_992
            return (node, Double(node.weight) / -Foundation.log(u))
        }
        .sorted { $0.score != $1.score ? $0.score > $1.score : $0.node.id < $1.node.id }
        .map(\.node)
    }

    /// Naive choice: of all sets of min(replicas, eligible) eligible nodes that span as many
    /// zones as any such set can, the one whose rank positions, sorted, are lexicographically
    /// smallest — the best-ranked placement with the widest zone spread.
    static func naiveChoose(_ chunk: ChunkID, _ nodes: [ClusterNode], replicas: Int, excluding: Set<String>) -> [String] {
        let eligible = naiveRanking(chunk, nodes).filter { !excluding.contains($0.id) }
        let size = min(replicas, eligible.count)
        let spread = min(size, Set(eligible.map(\.zone)).count)
        // Combinations come out in lexicographic order, so the first that spreads enough wins.
        for positions in combinations(eligible.count, size) where Set(positions.map { eligible[$0].zone }).count == spread {
            return positions.map { eligible[$0].id }
        }
        return []
    }

    /// Naive replacement: of the nodes neither kept, tried nor excluded, the best-ranked one
    /// among those that leave the kept copies plus it spanning the most zones.
    static func naiveReplacement(_ chunk: ChunkID, _ nodes: [ClusterNode], keeping: [String], tried: Set<String>,
                                 excluding: Set<String>) -> String? {
        let zonesByID = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0.zone) })
        let keptZones = Set(keeping.compactMap { zonesByID[$0] })
        let candidates = naiveRanking(chunk, nodes).filter {
            !keeping.contains($0.id) && !tried.contains($0.id) && !excluding.contains($0.id)
        }
        let spread = candidates.map { keptZones.union([$0.zone]).count }.max()
        return candidates.first { keptZones.union([$0.zone]).count == spread }?.id
    }

    /// Every `size`-subset of 0..<count, in lexicographic order.
    static func combinations(_ count: Int, _ size: Int) -> [[Int]] {
        guard size > 0 else { return [[]] }
        guard size <= count else { return [] }
        var result: [[Int]] = []
        var current: [Int] = []
        func extend(from start: Int) {
            if current.count == size { result.append(current); return }
            for next in start..<count where count - next >= size - current.count {
                current.append(next)
                extend(from: next + 1)
                current.removeLast()
            }
        }
        extend(from: 0)
        return result
    }

    /// A random subset of `ids`, each kept with probability 1 in `oneIn`.
    static func someOf(_ ids: [String], oneIn: Int, _ generator: inout SeededGenerator) -> Set<String> {
        Set(ids.filter { _ in Int.random(in: 0..<oneIn, using: &generator) == 0 })
    }
}
