/// One data node in the api's layout, as `GET /admin/nodes` and the node commands answer it.
public struct AdminNode: Codable, Sendable, Equatable {
    /// 32 lowercase hex, the data node's own id.
    public var id: String
    /// `host:port` the api reaches it at.
    public var address: String
    public var zone: String
    /// What the layout wants of it: `active`, `draining` (copies move off) or `removed`.
    public var state: String
    /// Its share of new chunks, relative to the other nodes' weights.
    public var weight: Int
    public var capacityBytes: Int
    /// Committed chunk bytes it reported; `nil` when the api has not heard.
    public var usedBytes: Int?
    /// What the probes see: `up`, `suspect`, `down` or `gone` (not at its address any more).
    public var health: String
    /// Chunk copies the manifests name on this node; `nil` when the api did not count them.
    public var copies: Int?
    /// Deletions queued for it (copies moved or replaced off it, waiting out the grace); a
    /// drained node is removable once these have run. `nil` from an api that does not say.
    public var pendingDeletions: Int?
    /// A draining node that holds nothing any more: it may be removed. `nil` from an api that
    /// does not say.
    public var drained: Bool?

    enum CodingKeys: String, CodingKey {
        case id, address, zone, state, weight
        case capacityBytes = "capacity_bytes"
        case usedBytes = "used_bytes"
        case health, copies
        case pendingDeletions = "pending_deletions"
        case drained
    }

    /// The state as the tables show it: a draining node that holds nothing is `drained`.
    public var shownState: String { state == "draining" && drained == true ? "drained" : state }

    public init(id: String, address: String, zone: String, state: String, weight: Int, capacityBytes: Int,
                usedBytes: Int?, health: String, copies: Int?, pendingDeletions: Int? = nil) {
        self.id = id
        self.address = address
        self.zone = zone
        self.state = state
        self.weight = weight
        self.capacityBytes = capacityBytes
        self.usedBytes = usedBytes
        self.health = health
        self.copies = copies
        self.pendingDeletions = pendingDeletions
    }
}

/// `GET /admin/nodes`: the layout, its version and every node in it, sorted by id.
public struct NodeLayout: Codable, Sendable, Equatable {
    /// Grows on every layout change.
    public var version: Int
    /// Copies the api keeps of every chunk.
    public var replicas: Int
    public var nodes: [AdminNode]
}

/// The api's `GET /health`: the fields `flare status` shows.
public struct APIHealth: Codable, Sendable, Equatable {
    public var status: String
    /// The api's I/O engine, `uring` or `epoll`.
    public var engine: String
    public var replicas: Int
}

/// The body of every error answer: `{"error","message","requestId"}`.
struct APIErrorBody: Decodable {
    var error: String
    var message: String
    var requestId: String?
}
