import FlareCluster
import FlareCore
import FlareIO
import FlareMetadata
import Synchronization

/// The data nodes this api writes to and reads from, by id: where each is now, its zone,
/// weight and membership, and its health. Shared by every loop (a probe on one loop,
/// data-path errors on all), so its state sits behind a lock; each call holds it for a few
/// dictionary operations only.
///
/// Active and draining nodes are here (both are read from and probed); only active ones are
/// in the placement, so a draining node gets no new chunk. Removed nodes are not here.
final class NodeDirectory: Sendable {
    /// One data node as the directory knows it.
    struct Node: Sendable, Equatable {
        var id: String
        var address: String
        var socketAddress: SocketAddress
        var zone: String
        var capacityBytes: Int
        /// Placement weight (the operator's, else the capacity in GiB).
        var weight: Int
        var membership: NodeMembership = .active
        /// Bytes of chunks the node last said it stores.
        var usedBytes: Int?
        /// Where its scrubber was, as it last said.
        var scrub: ScrubProgress?

        init(id: String, address: String, socketAddress: SocketAddress, zone: String, capacityBytes: Int,
             weight: Int? = nil, membership: NodeMembership = .active, usedBytes: Int? = nil) {
            self.id = id
            self.address = address
            self.socketAddress = socketAddress
            self.zone = zone
            self.capacityBytes = capacityBytes
            self.weight = weight ?? max(1, capacityBytes >> 30)
            self.membership = membership
            self.usedBytes = usedBytes
        }
    }

    private struct State {
        var nodes: [String: Node] = [:]
        var health: NodeHealthTable<ContinuousClock.Instant>
        /// Over the active nodes only.
        var placement: ReplicaPlacement?
        /// Raised by every change of the nodes, their zones, weights or membership.
        var generation = 0
        /// Exchanges in flight with an up node, to abandon if it stops being up.
        var watchers: [String: [Int: @Sendable () -> Void]] = [:]
        var nextWatch = 0
    }

    /// An exchange in flight with a node, registered by ``watchUnavailable(_:_:)``.
    struct Watch: Sendable {
        fileprivate let node: String
        fileprivate let number: Int?
    }

    private let state: Mutex<State>

    init(policy: NodeHealthPolicy) {
        // An empty table cannot fail: its only errors are about the ids given.
        state = Mutex(State(health: try! NodeHealthTable(nodeIDs: [], at: .now, policy: policy)))
    }

    /// Every node known, by id.
    var nodes: [Node] { state.withLock { Array($0.nodes.values).sorted { $0.id < $1.id } } }

    func address(of id: String) -> SocketAddress? { state.withLock { $0.nodes[id]?.socketAddress } }

    /// Whether a node is known and up (not suspect or down): worth background work now.
    func isUp(_ id: String) -> Bool { state.withLock { $0.nodes[id] != nil && $0.health.state(of: id) == .up } }

    func node(at address: String) -> Node? { state.withLock { $0.nodes.values.first { $0.address == address } } }

    func node(_ id: String) -> Node? { state.withLock { $0.nodes[id] } }

    /// Raised by every change of the nodes, their zones, weights or membership: work planned
    /// against an older generation may be planned differently now.
    var generation: Int { state.withLock { $0.generation } }

    /// Nodes draining now.
    var draining: Set<String> { state.withLock { Set($0.nodes.values.filter { $0.membership == .draining }.map(\.id)) } }

    /// Takes a node out (it was removed from the layout): not probed, not read from, no chunk.
    func remove(_ id: String) {
        state.withLock { state in
            guard state.nodes.removeValue(forKey: id) != nil else { return }
            Self.rebuild(&state)
        }
    }

    /// Records what a node said it stores, without a rebuild.
    func setUsedBytes(_ bytes: Int, of id: String) {
        state.withLock { $0.nodes[id]?.usedBytes = bytes }
    }

    /// Records what a node said of its scrubber, without a rebuild.
    func setScrub(_ scrub: ScrubProgress, of id: String) {
        state.withLock { $0.nodes[id]?.scrub = scrub }
    }
    /// Adds a node, or moves a known one (a node restarted on another address keeps its id,
    /// and so its chunks). A node whose address another id held replaces it there: that
    /// old id (a data directory that was wiped) is no longer reachable anywhere.
    func upsert(_ node: Node) {
        state.withLock { state in
            var changed = false
            for (id, other) in state.nodes where other.address == node.address && id != node.id {
                state.nodes.removeValue(forKey: id)
                changed = true
            }
            var node = node
            if node.usedBytes == nil { node.usedBytes = state.nodes[node.id]?.usedBytes }
            if node.scrub == nil { node.scrub = state.nodes[node.id]?.scrub }
            if state.nodes[node.id] != node {
                state.nodes[node.id] = node
                changed = true
            }
            if changed { Self.rebuild(&state) }
        }
    }

    /// Reports what a probe or a data-path exchange found; returns a change of state to log.
    /// A node that stops being up has its exchanges in flight abandoned (see
    /// ``watchUnavailable(_:_:)``).
    @discardableResult
    func record(_ event: NodeHealthEvent, node id: String) -> NodeHealthTransition? {
        let (transition, abandon) = state.withLock { state -> (NodeHealthTransition?, [@Sendable () -> Void]) in
            let transition = state.health.record(event, node: id, at: .now)
            guard let transition, transition.from == .up, transition.to != .up else { return (transition, []) }
            let watching = state.watchers.removeValue(forKey: id) ?? [:]
            return (transition, Array(watching.values))
        }
        abandon.forEach { $0() }
        return transition
    }

    /// Registers an exchange starting with `node`: if the node is up now and stops being up
    /// before ``endWatch(_:)`` (a probe timed out, another request failed on it), `abandon`
    /// runs once — the exchange need not wait out its own timeout on a node already known
    /// to be failing. A node not up now is not watched: it is being tried as a last resort.
    func watchUnavailable(_ node: String, _ abandon: @escaping @Sendable () -> Void) -> Watch {
        state.withLock { state in
            guard state.nodes[node] != nil, state.health.state(of: node) == .up else { return Watch(node: node, number: nil) }
            state.nextWatch += 1
            state.watchers[node, default: [:]][state.nextWatch] = abandon
            return Watch(node: node, number: state.nextWatch)
        }
    }

    /// The exchange ended. An `abandon` already taken by a concurrent ``record(_:node:)`` may
    /// still run once; it must be harmless then (cancelling a finished task is).
    func endWatch(_ watch: Watch) {
        guard let number = watch.number else { return }
        state.withLock { state in
            state.watchers[watch.node]?.removeValue(forKey: number)
            if state.watchers[watch.node]?.isEmpty == true { state.watchers.removeValue(forKey: watch.node) }
        }
    }

    /// Where a new chunk may go: every node in rendezvous order, each marked healthy or not
    /// (suspect and down nodes are tried only when healthy ones are not enough).
    func candidates(for chunk: ChunkID) -> [PutWindow.Candidate] {
        state.withLock { state in
            guard let placement = state.placement else { return [] }
            let unavailable = state.health.unavailable
            return placement.ranked(chunk).map {
                PutWindow.Candidate(node: $0.id, zone: $0.zone, healthy: !unavailable.contains($0.id))
            }
        }
    }

    /// A chunk's replicas in the order to read them: suspect and down last, the less busy
    /// (`load`: exchanges in flight, by node) first among equals, else the manifest's order.
    func readOrder(_ replicas: [String], load: [String: Int] = [:]) -> [String] {
        let states = state.withLock { $0.health.states }
        return ReplicaPlacement.readOrder(replicas: replicas, health: states, load: load)
    }

    /// Nodes not up now (suspect or down).
    var unavailable: Set<String> { state.withLock { $0.health.unavailable } }

    /// Nodes `down` for at least `seconds`: their copies are to be made again elsewhere.
    func down(forAtLeast seconds: Double) -> Set<String> {
        state.withLock { state in
            Set(state.health.snapshot(at: .now).filter { $0.state == .down && $0.stateAgeSeconds >= seconds }.map(\.id))
        }
    }

    /// Where `chunk`'s copies belong now: the first `replicas` active nodes by
    /// ``ReplicaPlacement/choose(_:replicas:excluding:)``, whatever their health (a node down
    /// for a while keeps its place; repair, not the layout, covers for it).
    func wanted(for chunk: ChunkID, replicas: Int) -> [String] {
        state.withLock { $0.placement?.choose(chunk, replicas: replicas) ?? [] }
    }

    /// Where a repair puts a new copy of `chunk`: by ``ReplicaPlacement/replacement(for:keeping:tried:excluding:)``,
    /// the next node in rendezvous order that holds none of its `replicas` (kept or lost),
    /// is up, and keeps the zone rule with the `keeping` copies if any node can.
    func repairTarget(for chunk: ChunkID, keeping: [String], replicas: [String]) -> String? {
        state.withLock { state in
            state.placement?.replacement(for: chunk, keeping: keeping, tried: Set(replicas), excluding: state.health.unavailable)
        }
    }

    /// Each node with its health, for `/health` and `/metrics`.
    func snapshot() -> [(node: Node, health: NodeHealthSnapshot<ContinuousClock.Instant>)] {
        state.withLock { state in
            state.health.snapshot(at: .now).compactMap { health in state.nodes[health.id].map { ($0, health) } }
        }
    }

    private static func rebuild(_ state: inout State) {
        state.generation += 1
        let nodes = state.nodes.values.filter { $0.membership == .active }.map { ClusterNode(id: $0.id, zone: $0.zone, weight: $0.weight) }
        do {
            try state.health.setNodes(state.nodes.keys, at: .now)
            state.placement = nodes.isEmpty ? nil : try ReplicaPlacement(nodes: nodes)
        } catch {
            // Ids come from NodeID's parser and are unique keys here: nothing to refuse.
            preconditionFailure("node table refused: \(error)")
        }
    }
}

/// A data node's scrubber as its `/health` tells it: chunks checked of those listed for the
/// current (or last) pass, whole passes, chunks in quarantine, when the last pass ended.
struct ScrubProgress: Codable, Sendable, Equatable {
    var checked: Int
    var total: Int
    var passes: Int
    var quarantined: Int
    /// Unix time; nil before the first whole pass.
    var lastPassEndSeconds: Int?
}
