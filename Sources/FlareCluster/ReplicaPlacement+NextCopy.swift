/// A node a chunk's copy may go to, as the writer sees it: its place in the chunk's
/// rendezvous order is its position in the list it comes in.
public struct CopyCandidate: Sendable, Equatable {
    public var node: String
    public var zone: String
    /// Not suspect or down: tried before any node that is.
    public var healthy: Bool

    public init(node: String, zone: String, healthy: Bool = true) {
        self.node = node
        self.zone = zone
        self.healthy = healthy
    }
}

extension ReplicaPlacement {
    /// The one rule for where a chunk's next copy goes (a first copy, one more, or one that
    /// replaces a failed write), as a position in `candidates` (rendezvous order): the first
    /// untried healthy candidate in a zone none of `zonesInUse` is, else the first untried
    /// healthy one, else the same two among the unhealthy. So no two copies share a zone
    /// while another zone has a node left, and a suspect or down node gets a copy only when
    /// the healthy ones cannot make up the replicas. `nil` when every candidate was tried.
    public static func nextCopy(_ candidates: [CopyCandidate], tried: Set<Int>, zonesInUse: Set<String>) -> Int? {
        var healthyAnyZone: Int?, unhealthyNewZone: Int?, unhealthyAnyZone: Int?
        for (position, candidate) in candidates.enumerated() where !tried.contains(position) {
            let newZone = !zonesInUse.contains(candidate.zone)
            if candidate.healthy {
                if newZone { return position }
                if healthyAnyZone == nil { healthyAnyZone = position }
            } else {
                if newZone && unhealthyNewZone == nil { unhealthyNewZone = position }
                if unhealthyAnyZone == nil { unhealthyAnyZone = position }
            }
        }
        return healthyAnyZone ?? unhealthyNewZone ?? unhealthyAnyZone
    }
}
