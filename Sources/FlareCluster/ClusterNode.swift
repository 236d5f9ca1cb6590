/// A data node as placement sees it: who it is, where it stands, and how much it should hold.
///
/// Node ids are plain `String`s here: the data node's persistent id, 32 lowercase hex
/// characters as it writes it in its data directory. Placement needs only that the id is
/// stable and unique, so it checks length and uniqueness, not the alphabet.
public struct ClusterNode: Hashable, Sendable, CustomStringConvertible {
    /// The longest id accepted, in UTF-8 bytes (a 32-hex id with room to spare).
    public static let idBytesMax = 64

    /// The node's persistent id (32 lowercase hex).
    public let id: String
    /// The failure domain (rack, room, host). Nodes with the same zone may fail together, so
    /// placement keeps a chunk's copies in distinct zones when it can. `""` is a zone too: a
    /// cluster that names no zones is one zone.
    public let zone: String
    /// Relative capacity, > 0. Only ratios matter: a node of weight 2 gets twice the chunks of
    /// a node of weight 1. Capacity in GiB is a good choice.
    public let weight: Int

    public init(id: String, zone: String = "", weight: Int = 1) {
        self.id = id
        self.zone = zone
        self.weight = weight
    }

    public var description: String { "\(id)@\(zone.isEmpty ? "-" : zone)×\(weight)" }
}

/// Why a node list cannot be placed on.
public enum ClusterConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case noNodes
    case tooManyNodes(count: Int, max: Int)
    case invalidNodeID(String)
    case duplicateNode(String)
    case invalidWeight(node: String, weight: Int)

    public var description: String {
        switch self {
        case .noNodes: "no data nodes to place chunks on"
        case .tooManyNodes(let count, let max): "\(count) data nodes, more than the \(max) supported"
        case .invalidNodeID(let id): "node id \"\(id)\" is empty or longer than \(ClusterNode.idBytesMax) bytes"
        case .duplicateNode(let id): "node id \(id) appears twice"
        case .invalidWeight(let node, let weight): "node \(node) has weight \(weight); weights must be > 0"
        }
    }
}

/// Limits shared by placement and the health table.
public enum ClusterLimits {
    /// The most data nodes a cluster may have. Placement scores every node for every chunk,
    /// so this also bounds the work per chunk.
    public static let nodesMax = 1024
}
