import FlareCore

/// The health of every node, keyed by node id, and what `/health` shows of it.
///
/// A value: the api keeps one behind its own lock (loops report data-path failures
/// concurrently). Its keys are exactly the node list it was last given, so it never grows
/// past `ClusterLimits.nodesMax`; outcomes for an id it does not know are ignored.
public struct NodeHealthTable<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public let policy: NodeHealthPolicy
    private var machines: [String: NodeHealth<Instant>] = [:]

    /// A table of `nodeIDs`, all `up` as of `now`.
    public init(nodeIDs: some Sequence<String>, at now: Instant,
                policy: NodeHealthPolicy = NodeHealthPolicy()) throws(ClusterConfigurationError) {
        self.policy = policy
        try setNodes(nodeIDs, at: now)
    }

    /// Follows a new node list: known nodes keep their state, new ones start `up`, and nodes
    /// no longer listed are forgotten.
    public mutating func setNodes(_ nodeIDs: some Sequence<String>, at now: Instant) throws(ClusterConfigurationError) {
        let ids = Set(nodeIDs)
        guard ids.count <= ClusterLimits.nodesMax else { throw .tooManyNodes(count: ids.count, max: ClusterLimits.nodesMax) }
        var next: [String: NodeHealth<Instant>] = [:]
        for id in ids { next[id] = machines[id] ?? NodeHealth(at: now, policy: policy) }
        machines = next
    }

    /// Feeds one outcome for a node; returns the transition if its state changed, nil also
    /// when the node is not in the table.
    @discardableResult
    public mutating func record(_ event: NodeHealthEvent, node id: String, at now: Instant) -> NodeHealthTransition? {
        machines[id]?.record(event, at: now)
    }

    /// The node's state, nil if the table does not know it.
    public func state(of id: String) -> NodeState? { machines[id]?.state }

    /// Every node's state: the `health` input of `ReplicaPlacement.readOrder`.
    public var states: [String: NodeState] { machines.mapValues(\.state) }

    /// The nodes new chunks must skip (suspect or down): the `excluding` input of
    /// `ReplicaPlacement.choose` and `replacement`.
    public var unavailable: Set<String> { Set(machines.filter { $0.value.state != .up }.keys) }

    /// One row per node, sorted by id, for `/health`.
    public func snapshot(at now: Instant) -> [NodeHealthSnapshot<Instant>] {
        machines.keys.sorted().map { id in
            let machine = machines[id]!
            return NodeHealthSnapshot(id: id, state: machine.state, since: machine.since,
                                      stateAgeSeconds: max(0, machine.since.duration(to: now).secondsValue),
                                      lastFailure: machine.lastFailure, lastFailureAt: machine.lastFailureAt,
                                      dataPathFailureCount: machine.dataPathFailureCount,
                                      probeFailureCount: machine.probeFailureCount)
        }
    }
}

/// One node's row in `/health`.
public struct NodeHealthSnapshot<Instant: InstantProtocol>: Sendable, Hashable where Instant: Sendable {
    /// The node id (32 lowercase hex).
    public let id: String
    public let state: NodeState
    /// When the node entered `state`.
    public let since: Instant
    /// How long it has been in `state` as of the snapshot, in seconds.
    public let stateAgeSeconds: Double
    /// The latest failure and when it happened; nil if the node never failed. Its `kind`
    /// is the timeout flag.
    public let lastFailure: NodeFailure?
    public let lastFailureAt: Instant?
    public let dataPathFailureCount: UInt64
    public let probeFailureCount: UInt64
}
