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
}
