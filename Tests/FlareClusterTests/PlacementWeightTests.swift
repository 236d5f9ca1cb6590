import FlareCluster
import FlareCore
import FlareTestSupport
import Testing

/// Weights: a node's share of first copies follows its weight. Statistical, so the seed is
/// fixed (the result is the same on every run) and the bound generous: ±5% relative where
/// one standard deviation is about 1.5% for the smallest share.
@Suite("ReplicaPlacement weights")
struct PlacementWeightTests {
    static let chunkCount = 100_000

    @Test("first copies over 100k chunks are within ±5% of weight / total weight")
    func firstCopySharesFollowWeights() throws {
        var generator = SeededGenerator(seed: 20)
        let weights = [1, 2, 3, 4, 10]
        let nodes = weights.map { ClusterNode(id: ClusterFixtures.nodeID(&generator), weight: $0) }
        let placement = try ReplicaPlacement(nodes: nodes)
        var counts: [String: Int] = [:]
        for chunk in ClusterFixtures.chunks(Self.chunkCount, seed: 20) {
            counts[placement.choose(chunk, replicas: 1)[0], default: 0] += 1
        }
        let totalWeight = Double(weights.reduce(0, +))
        for node in nodes {
            let expected = Double(Self.chunkCount) * Double(node.weight) / totalWeight
            let actual = Double(counts[node.id, default: 0])
            #expect(abs(actual - expected) <= 0.05 * expected, "weight \(node.weight): \(actual) first copies, expected \(expected)")
        }
    }

    @Test("equal weights share all copies evenly (±5%), and a heavier node holds more copies")
    func copiesSpread() throws {
        var generator = SeededGenerator(seed: 21)
        let even = try ReplicaPlacement(nodes: (0..<6).map { _ in ClusterNode(id: ClusterFixtures.nodeID(&generator)) })
        let uneven = try ReplicaPlacement(nodes: [1, 1, 1, 2, 4, 4].map { ClusterNode(id: ClusterFixtures.nodeID(&generator), weight: $0) })
        var evenCounts: [String: Int] = [:], unevenCounts: [String: Int] = [:]
        for chunk in ClusterFixtures.chunks(Self.chunkCount / 4, seed: 21) {
            for id in even.choose(chunk, replicas: 3) { evenCounts[id, default: 0] += 1 }
            for id in uneven.choose(chunk, replicas: 3) { unevenCounts[id, default: 0] += 1 }
        }
        let expected = Double(Self.chunkCount / 4 * 3) / 6
        for (id, count) in evenCounts {
            #expect(abs(Double(count) - expected) <= 0.05 * expected, "\(id): \(count) copies, expected \(expected)")
        }
        // With 3 copies a node holds at most one per chunk, so shares are not exactly
        // proportional; the order must still follow the weights.
        let byWeight = uneven.nodes.sorted { $0.weight < $1.weight }.map { unevenCounts[$0.id, default: 0] }
        #expect(byWeight[2] < byWeight[3] && byWeight[3] < byWeight[4], "copies by weight: \(byWeight)")
    }
}
