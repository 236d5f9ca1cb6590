import FlareCore

extension NodeLayout {
    /// Characters of a node id shown in tables: enough to tell nodes apart and to type as
    /// a prefix; `--json` has the whole id.
    public static let shownIDLength = 12

    /// A heading line and one aligned row per node.
    public func renderTable() -> String {
        var table = TextTable([
            .init("ID"), .init("ADDRESS"), .init("ZONE"), .init("STATE"), .init("HEALTH"),
            .init("WEIGHT", .right), .init("COPIES", .right), .init("USED", .right), .init("CAPACITY", .right),
            .init("USE", .right),
        ])
        for node in nodes {
            table.append([
                String(node.id.prefix(Self.shownIDLength)), node.address, node.zone, node.shownState, node.health,
                "\(node.weight)", node.copies.map { "\($0)" } ?? "-", node.usedBytes.map(ByteSize.format) ?? "-",
                ByteSize.format(node.capacityBytes), node.usedPercent,
            ])
        }
        let heading = "layout version \(version): \(nodes.count) node\(nodes.count == 1 ? "" : "s"), \(replicas) replica\(replicas == 1 ? "" : "s") per chunk"
        return nodes.isEmpty ? heading : heading + "\n" + table.render()
    }

    /// How many nodes are in each of `states`, in that order, leaving out the ones with none:
    /// `3 active, 1 draining`.
    func counts(_ key: KeyPath<AdminNode, String>, _ order: [String]) -> String {
        var tally: [String: Int] = [:]
        for node in nodes { tally[node[keyPath: key], default: 0] += 1 }
        let known = order.compactMap { name in tally[name].map { "\($0) \(name)" } }
        let others = tally.keys.filter { !order.contains($0) }.sorted().map { "\(tally[$0]!) \($0)" }
        return (known + others).joined(separator: ", ")
    }
}

extension AdminNode {
    /// Used bytes as a share of the capacity, `-` when either is unknown.
    var usedPercent: String {
        guard let usedBytes, capacityBytes > 0 else { return "-" }
        let percent = Double(usedBytes) / Double(capacityBytes) * 100
        if usedBytes > 0 && percent < 1 { return "<1%" }
        return "\(Int(percent.rounded()))%"
    }

    /// One line for the node commands' answers: `node <id> at 127.0.0.1:9004 (zone a): draining, health up, weight 100, 12 copies`.
    public func renderLine() -> String {
        var held = copies.map { "\($0) cop\($0 == 1 ? "y" : "ies")" } ?? "copies not counted"
        if let pendingDeletions, pendingDeletions > 0 { held += ", \(pendingDeletions) deletion\(pendingDeletions == 1 ? "" : "s") queued" }
        return "node \(id) at \(address) (zone \(zone)): \(shownState), health \(health), weight \(weight), \(held)"
    }
}
