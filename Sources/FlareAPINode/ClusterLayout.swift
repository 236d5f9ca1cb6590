import FlareCore
import FlareIO
import FlareMetadata
import Synchronization

/// The cluster layout as this api keeps it: every data node ever recorded (id, address,
/// zone, capacity, membership, weight), mirrored from the metadata store, and the addresses
/// to probe — `--datanodes` and every node in the layout that is not removed. The store is
/// the truth (it outlives the process); the mirror answers the prober and the admin API
/// without a metadata read, and changes only after the store has taken a change.
///
/// `--datanodes` seeds the layout: an id first seen at any probed address joins as active.
/// After that the layout changes only through the admin API (``ClusterLayout+Admin``).
final class ClusterLayout: Sendable {
    let metadata: MetadataStore
    let directory: NodeDirectory
    private struct State {
        var known: [String: KnownNode]
        var targets: [String: SocketAddress]
        /// Removed ids already logged as answering at a probed address.
        var ignoredLogged: Set<String> = []
        var version: Int64 = 0
    }
    private let state: Mutex<State>

    /// - Parameters:
    ///   - configured: `--datanodes`, parsed.
    ///   - known: the store's node table at start.
    init(metadata: MetadataStore, directory: NodeDirectory, configured: [(text: String, address: SocketAddress)],
         known: [KnownNode]) {
        self.metadata = metadata
        self.directory = directory
        var targets: [String: SocketAddress] = [:]
        for node in configured { targets[node.text] = node.address }
        for node in known where node.membership != .removed && targets[node.address] == nil {
            // An address recorded by an earlier run parses unless the file was edited by hand.
            if let address = try? SocketAddress(parsing: node.address) { targets[node.address] = address }
        }
        state = Mutex(State(known: Dictionary(uniqueKeysWithValues: known.map { ($0.id, $0) }), targets: targets))
        // Nodes known from earlier runs at an address probed now: their chunks resolve even
        // while they are down; the first probe finds who is where now.
        for node in known where node.membership != .removed {
            guard let address = targets[node.address] else { continue }
            directory.upsert(Self.directoryNode(node, address))
        }
    }

    /// The layout's version as last read from the store.
    var version: Int64 { state.withLock { $0.version } }

    /// Reads the version again after a change (a failure keeps the last one: it is only shown).
    func refreshVersion() async {
        guard let version = try? await metadata.layoutVersion() else { return }
        state.withLock { $0.version = max($0.version, version) }
    }

    /// The addresses the prober asks, in a stable order.
    var probeTargets: [(text: String, address: SocketAddress)] {
        state.withLock { $0.targets.sorted { $0.key < $1.key }.map { (text: $0.key, address: $0.value) } }
    }

    /// Every node ever recorded, by id.
    var known: [KnownNode] { state.withLock { $0.known.values.sorted { $0.id < $1.id } } }

    func known(_ id: String) -> KnownNode? { state.withLock { $0.known[id] } }

    /// Nodes the operator removed: their copies are lost at once (never read again).
    var removed: Set<String> { state.withLock { Set($0.known.values.filter { $0.membership == .removed }.map(\.id)) } }

    /// What a probe of `text` found: node `id` with this zone and capacity. Records it (a new
    /// id joins as active) and puts it in the directory; returns `false`, doing nothing, for
    /// a node the operator removed (logged once by the caller when `firstIgnore`).
    func learned(id: String, at text: String, _ address: SocketAddress, zone: String, capacityBytes: Int,
                 seenNanoseconds: Int64) async throws -> (accepted: Bool, firstIgnore: Bool) {
        let previous = state.withLock { state -> KnownNode? in state.known[id] }
        if previous?.membership == .removed {
            let first = state.withLock { $0.ignoredLogged.insert(id).inserted }
            return (false, first)
        }
        var node = previous ?? KnownNode(id: id, address: text, zone: zone, capacityBytes: capacityBytes, seenNanoseconds: seenNanoseconds)
        node.address = text
        node.zone = zone
        node.capacityBytes = capacityBytes
        node.seenNanoseconds = seenNanoseconds
        try await metadata.recordNode(node)
        // An admin change may have landed while the store wrote: keep its membership and
        // weight, and take only what the probe saw.
        let current = state.withLock { state -> KnownNode in
            var current = state.known[id] ?? node
            current.address = text
            current.zone = zone
            current.capacityBytes = capacityBytes
            current.seenNanoseconds = seenNanoseconds
            state.known[id] = current
            return current
        }
        guard current.membership != .removed else { return (false, false) }
        directory.upsert(Self.directoryNode(current, address))
        if previous == nil { await refreshVersion() }
        return (true, false)
    }

    /// Mirrors a node the store has just changed, and the directory with it.
    func mirror(_ node: KnownNode, address: SocketAddress?) {
        state.withLock { state in
            state.known[node.id] = node
            if node.membership == .removed {
                state.ignoredLogged.remove(node.id)
            } else if let address {
                state.targets[node.address] = address
            }
        }
        if node.membership == .removed {
            directory.remove(node.id)
        } else if let address = address ?? directory.node(node.id)?.socketAddress {
            var entry = Self.directoryNode(node, address)
            entry.usedBytes = directory.node(node.id)?.usedBytes
            directory.upsert(entry)
        }
    }

    /// Stops probing `text` (a removed node's address no `--datanodes` entry names).
    func dropTarget(_ text: String, unlessConfigured configured: Set<String>) {
        guard !configured.contains(text) else { return }
        state.withLock { state in
            guard !state.known.values.contains(where: { $0.address == text && $0.membership != .removed }) else { return }
            state.targets.removeValue(forKey: text)
        }
    }

    static func directoryNode(_ node: KnownNode, _ address: SocketAddress) -> NodeDirectory.Node {
        NodeDirectory.Node(id: node.id, address: node.address, socketAddress: address, zone: node.zone,
                           capacityBytes: node.capacityBytes, weight: node.placementWeight, membership: node.membership)
    }
}
