extension ReplicaPlacement {
    /// The order to read a chunk's copies in: the manifest's order, except that `suspect`
    /// copies come after the `up` ones and `down` copies last (a stable partition, so the
    /// recorded order still decides among equals). A node `health` does not know is treated
    /// as `up`: not knowing is no evidence of failure, and the read fails over anyway.
    public static func readOrder(replicas: [String], health: [String: NodeState]) -> [String] {
        let states = replicas.map { health[$0] ?? .up }
        return replicas.indices.sorted { states[$0] != states[$1] ? states[$0] < states[$1] : $0 < $1 }
            .map { replicas[$0] }
    }
}
