extension ReplicaPlacement {
    /// The order to read a chunk's copies in: `up` copies first, then `suspect`, `down` last;
    /// among copies in the same state, the node with fewer exchanges in flight (`load`) first,
    /// and then the manifest's order. A node `health` does not know is treated as `up`: not
    /// knowing is no evidence of failure, and the read fails over anyway.
    ///
    /// With no load the manifest's (rendezvous) order already spreads first copies evenly
    /// over the nodes; the load makes reads of a chunk with two healthy copies go to the one
    /// less busy now — two choices instead of one, which evens out the chance imbalance of
    /// many concurrent reads and steers them off a node that is slow.
    public static func readOrder(replicas: [String], health: [String: NodeState], load: [String: Int] = [:]) -> [String] {
        let states = replicas.map { health[$0] ?? .up }
        let loads = replicas.map { load[$0] ?? 0 }
        return replicas.indices.sorted { a, b in
            if states[a] != states[b] { return states[a] < states[b] }
            if loads[a] != loads[b] { return loads[a] < loads[b] }
            return a < b
        }
        .map { replicas[$0] }
    }
}
