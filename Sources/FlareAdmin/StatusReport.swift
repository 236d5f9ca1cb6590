import FlareCore

/// `flare status`: the api's health, a summary of the layout, the nodes that need a look,
/// and the repair in one line.
public struct StatusReport: Sendable {
    public var api: String
    public var health: APIHealth
    public var layout: NodeLayout
    public var repair: RepairStatus

    public init(api: String, health: APIHealth, layout: NodeLayout, repair: RepairStatus) {
        self.api = api
        self.health = health
        self.layout = layout
        self.repair = repair
    }

    public func render() -> String {
        var lines = ["api \(api): \(health.status), engine \(health.engine), \(health.replicas) replica\(health.replicas == 1 ? "" : "s") per chunk"]
        let nodes = layout.nodes
        let states = layout.counts(\.state, ["active", "draining", "removed"])
        let healths = layout.counts(\.health, ["up", "suspect", "down", "gone"])
        lines.append("nodes: \(nodes.count)" + (nodes.isEmpty ? "" : " (\(states); \(healths))") + ", layout version \(layout.version)")
        let serving = nodes.filter { $0.state != "removed" }
        let used = serving.compactMap(\.usedBytes).reduce(0, +)
        let capacity = serving.map(\.capacityBytes).reduce(0, +)
        let unknown = serving.filter { $0.usedBytes == nil }.count
        lines.append("space: \(ByteSize.format(used)) used of \(ByteSize.format(capacity))"
                     + (unknown > 0 ? " (\(unknown) node\(unknown == 1 ? "" : "s") not reporting)" : ""))
        // A removed node is history; one not active or not up is what an operator looks for.
        for node in serving where node.state != "active" || node.health != "up" {
            lines.append("  \(node.id.prefix(NodeLayout.shownIDLength)) at \(node.address): \(node.state), \(node.health)")
        }
        lines.append(repair.renderSummary())
        return lines.joined(separator: "\n")
    }
}
