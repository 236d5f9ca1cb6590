import FlareCluster
import FlareCore
import FlareTestSupport
import Testing

/// Minimal movement: a node joining takes chunks only for itself, a node leaving gives up
/// only its own, over seeded random zoned clusters and copy counts.
@Suite("ReplicaPlacement movement")
struct PlacementMovementTests {
    @Test("adding a node changes only chunks whose new copies include it, and only by it")
    func addingMovesOnlyToNewNode() throws {
        var generator = SeededGenerator(seed: 10)
        var moved = 0, total = 0
        for round in 0..<40 {
            let nodes = ClusterFixtures.cluster(Int.random(in: 1...10, using: &generator), zonesMax: 5, &generator)
            let added = ClusterFixtures.cluster(1, zonesMax: 6, &generator)[0]
            let before = try ReplicaPlacement(nodes: nodes), after = try ReplicaPlacement(nodes: nodes + [added])
            let replicas = Int.random(in: 1...4, using: &generator)
            for chunk in ClusterFixtures.chunks(500, seed: UInt64(round) + 2_000) {
                let old = before.choose(chunk, replicas: replicas), new = after.choose(chunk, replicas: replicas)
                total += 1
                if new.contains(added.id) {
                    moved += 1
                    #expect(Set(new).subtracting([added.id]).isSubset(of: old),
                            "a copy moved to an old node: \(old) → \(new), round \(round)")
                } else {
                    #expect(Set(new) == Set(old), "\(old) → \(new) without the new node \(added), round \(round)")
                }
            }
        }
        #expect(moved > 0 && moved < total, "moved \(moved) of \(total)")
    }

    @Test("removing a node changes only chunks it held, and keeps their other copies")
    func removingMovesOnlyItsChunks() throws {
        var generator = SeededGenerator(seed: 11)
        var moved = 0, total = 0
        for round in 0..<40 {
            let nodes = ClusterFixtures.cluster(Int.random(in: 2...10, using: &generator), zonesMax: 5, &generator)
            let removed = nodes[Int.random(in: 0..<nodes.count, using: &generator)]
            let before = try ReplicaPlacement(nodes: nodes)
            let after = try ReplicaPlacement(nodes: nodes.filter { $0.id != removed.id })
            let replicas = Int.random(in: 1...4, using: &generator)
            for chunk in ClusterFixtures.chunks(500, seed: UInt64(round) + 3_000) {
                let old = before.choose(chunk, replicas: replicas), new = after.choose(chunk, replicas: replicas)
                total += 1
                if old.contains(removed.id) {
                    moved += 1
                    #expect(Set(old).subtracting([removed.id]).isSubset(of: new),
                            "a surviving copy moved: \(old) → \(new), round \(round)")
                } else {
                    #expect(Set(new) == Set(old), "\(old) → \(new) though \(removed) held no copy, round \(round)")
                }
            }
        }
        #expect(moved > 0 && moved < total, "moved \(moved) of \(total)")
    }
}
