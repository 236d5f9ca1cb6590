import FlareCore
import FlareIO
import FlareMetadata

/// A layout change refused, with the HTTP status that says why.
struct LayoutChangeError: Error, CustomStringConvertible {
    let status: Int
    let description: String
    /// The methods a 405 allows.
    var allow: String?
    init(_ status: Int, _ description: String, allow: String? = nil) {
        self.status = status
        self.description = description
        self.allow = allow
    }

    /// The metadata store failed: 503 when it is only busy (try again), else 500.
    init(metadata error: Error, _ description: String) {
        self.init(error is MetadataBusy ? 503 : 500, description)
    }
}

/// The operator's changes: add a node by address, drain, activate, remove, weigh. Each is
/// written to the metadata store first (raising the layout version), then mirrored here.
extension ClusterLayout {
    /// Adds the data node answering at `text` as active (or brings back one that was
    /// removed). `zone`, when given, must be the zone the node says it is in: the zone is the
    /// node's own setting (`datanode --zone`), and two sources for it would disagree.
    func add(address text: String, zone: String?, prober: NodeProber) async throws(LayoutChangeError) -> KnownNode {
        let address: SocketAddress
        do {
            address = try SocketAddress(parsing: text)
        } catch {
            throw LayoutChangeError(400, "address \(text.debugDescription) is not host:port (\(error))")
        }
        if let holder = known.first(where: { $0.address == text && $0.membership != .removed }), directory.node(holder.id) != nil {
            throw LayoutChangeError(409, "\(text) is already in the layout: node \(holder.id), \(holder.membership.rawValue)")
        }
        let health: NodeProber.Health
        do {
            health = try await prober.health(at: address)
        } catch {
            throw LayoutChangeError(502, "no data node answers at \(text): \(error)")
        }
        if let zone, zone != health.zone {
            throw LayoutChangeError(409, "the data node at \(text) is in zone \(health.zone.debugDescription), not \(zone.debugDescription): a node's zone is its own --zone; restart it with --zone \(zone) or add it without --zone")
        }
        let id = "\(health.id)"
        if let existing = known(id), existing.membership != .removed, directory.node(id) != nil {
            throw LayoutChangeError(409, "node \(id) is already in the layout, at \(existing.address) (\(existing.membership.rawValue))")
        }
        var node = known(id) ?? KnownNode(id: id, address: text, zone: health.zone, capacityBytes: health.capacityBytes,
                                          seenNanoseconds: wallClockNanoseconds())
        node.address = text
        node.zone = health.zone
        node.capacityBytes = health.capacityBytes
        node.seenNanoseconds = wallClockNanoseconds()
        do {
            try await metadata.recordNode(node)
            if node.membership == .removed {
                node = try await metadata.setMembership(.active, of: id)
            }
        } catch {
            throw LayoutChangeError(metadata: error, "metadata: cannot record node \(id): \(error)")
        }
        mirror(node, address: address)
        await refreshVersion()
        if let used = health.usedBytes { directory.setUsedBytes(used, of: id) }
        return node
    }

    /// Sets a node's membership to `draining` or `active`.
    func setMembership(_ membership: NodeMembership, of id: String, replicas: Int) async throws(LayoutChangeError) -> KnownNode {
        precondition(membership != .removed, "removal is remove(_:force:)")
        let node = try existing(id)
        guard node.membership != .removed else {
            throw LayoutChangeError(409, "node \(id) was removed; add it again by address (flare node add \(node.address))")
        }
        guard node.membership != membership else { return node }
        if membership == .draining { try keepsEnoughActive(without: id, replicas: replicas, doing: "draining") }
        return try await store(membership, of: id)
    }

    /// Removes a node from the layout. Refused while manifests still name copies on it
    /// (drain it first) or, while it is up, deletions of copies moved off it are still
    /// queued, unless `force` — then those copies are lost at once and made again from the
    /// others — and when fewer active nodes than `replicas` would be left (not with `force`:
    /// forcing skips every check).
    func remove(_ id: String, force: Bool, replicas: Int, configured: Set<String>) async throws(LayoutChangeError) -> KnownNode {
        let node = try existing(id)
        guard node.membership != .removed else { return node }
        if !force {
            try keepsEnoughActive(without: id, replicas: replicas, doing: "removing")
            let copies: Int, deletions: Int
            do {
                copies = try await metadata.copiesByNode()[id] ?? 0
                deletions = try await metadata.deletionsByNode()[id] ?? 0
            } catch {
                throw LayoutChangeError(metadata: error, "metadata: cannot count the copies on \(id): \(error)")
            }
            guard copies == 0 else {
                let advice = node.membership == .draining ? "wait until the drain has moved them (flare nodes shows the count)"
                    : "drain it first (flare node drain \(id)) and wait until it holds none"
                throw LayoutChangeError(409, "node \(id) still holds \(copies) chunk copies: \(advice), or remove it with --force to make them again from the other copies")
            }
            // Copies moved off it are deleted from it after the deletion grace; removed, it
            // would keep them (nothing contacts a removed node). A node that is not up now
            // could not take them anyway: its deletions go with it.
            guard deletions == 0 || !directory.isUp(id) else {
                throw LayoutChangeError(409, "node \(id) holds no copy the manifests name, but \(deletions) deletion(s) of copies moved off it are still queued (they run after --deletion-grace): wait for them, or remove it with --force and wipe its data directory")
            }
        }
        let removed: KnownNode
        do {
            // The count again, in the removal's own transaction: an upload that committed a
            // copy on it since the count above must not be orphaned.
            removed = try await metadata.removeNode(id, ifHoldingNone: !force)
        } catch let error as LayoutError where error.kind == .conflict {
            throw LayoutChangeError(409, "\(error.description): drain it first and wait until it holds none, or remove it with --force")
        } catch {
            throw LayoutChangeError(metadata: error, "metadata: cannot remove node \(id): \(error)")
        }
        mirror(removed, address: nil)
        await refreshVersion()
        dropTarget(node.address, unlessConfigured: configured)
        return removed
    }

    /// Sets a node's placement weight; `nil` goes back to its capacity in GiB.
    func setWeight(_ weight: Int?, of id: String) async throws(LayoutChangeError) -> KnownNode {
        _ = try existing(id)
        if let weight, !(1...Self.weightMax).contains(weight) {
            throw LayoutChangeError(400, "a weight is 1…\(Self.weightMax) (got \(weight))")
        }
        let node: KnownNode
        do {
            node = try await metadata.setWeight(weight, of: id)
        } catch {
            throw LayoutChangeError(metadata: error, "metadata: cannot set the weight of \(id): \(error)")
        }
        mirror(node, address: nil)
        await refreshVersion()
        return node
    }

    /// Weights are relative; this bound keeps rendezvous keys well conditioned.
    static let weightMax = 1 << 20

    private func existing(_ id: String) throws(LayoutChangeError) -> KnownNode {
        guard let node = known(id) else { throw LayoutChangeError(404, "no data node with id \(id) in the layout") }
        return node
    }

    private func keepsEnoughActive(without id: String, replicas: Int, doing: String) throws(LayoutChangeError) {
        // Nodes in the directory only: a gone id (a wiped node's old one) takes no chunk.
        let active = known.filter { $0.membership == .active && $0.id != id && directory.node($0.id) != nil }.count
        guard active >= replicas else {
            throw LayoutChangeError(409, "\(doing) node \(id) would leave \(active) active data node(s), fewer than --replicas \(replicas): add a node first")
        }
    }

    private func store(_ membership: NodeMembership, of id: String) async throws(LayoutChangeError) -> KnownNode {
        let node: KnownNode
        do {
            node = try await metadata.setMembership(membership, of: id)
        } catch {
            throw LayoutChangeError(metadata: error, "metadata: cannot set node \(id) \(membership.rawValue): \(error)")
        }
        mirror(node, address: nil)
        await refreshVersion()
        return node
    }
}
