import FlareCluster
import Testing

@Suite("ReplicaPlacement.readOrder")
struct ReadOrderTests {
    @Test("keeps the manifest's order among equals, suspect after up, down last, unknown as up")
    func stablePartition() {
        let replicas = ["d1", "s1", "u1", "x", "d2", "u2", "s2"]
        let health: [String: NodeState] = ["d1": .down, "d2": .down, "s1": .suspect, "s2": .suspect, "u1": .up, "u2": .up]
        #expect(ReplicaPlacement.readOrder(replicas: replicas, health: health) == ["u1", "x", "u2", "s1", "s2", "d1", "d2"])
        #expect(ReplicaPlacement.readOrder(replicas: ["b", "a"], health: [:]) == ["b", "a"])
        #expect(ReplicaPlacement.readOrder(replicas: [], health: health) == [])
    }

    @Test("among copies in the same state the less busy node comes first; health still comes before load")
    func loadBreaksTies() {
        let health: [String: NodeState] = ["a": .up, "b": .up, "c": .suspect]
        #expect(ReplicaPlacement.readOrder(replicas: ["a", "b"], health: health, load: ["a": 3, "b": 1]) == ["b", "a"])
        #expect(ReplicaPlacement.readOrder(replicas: ["a", "b"], health: health, load: ["a": 2, "b": 2]) == ["a", "b"])
        #expect(ReplicaPlacement.readOrder(replicas: ["c", "a"], health: health, load: ["a": 9]) == ["a", "c"], "a busy up node before an idle suspect one")
        #expect(ReplicaPlacement.readOrder(replicas: ["a", "b"], health: health, load: ["b": 1]) == ["a", "b"], "a node absent from load has none in flight")
    }
}
