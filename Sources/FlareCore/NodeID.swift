/// A data node's identity: 128 random bits, written as 32 lowercase hex characters (the
/// same form as a ``ChunkID``, a different type so the two cannot be mixed up).
///
/// A data node creates its id once, on the first start over a data directory, and keeps it
/// in `<data-dir>/node-id`; it reports it in `GET /health`. Manifests and the node table
/// name nodes by id, so an address can change without the chunks behind it being lost.
public struct NodeID: Hashable, Sendable, CustomStringConvertible, Comparable, Codable {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A fresh random id.
    public static func random() -> NodeID {
        var generator = SystemRandomNumberGenerator()
        return NodeID(high: generator.next(), low: generator.next())
    }

    /// Parses exactly 32 lowercase hex characters; `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        guard let (high, low) = parseLowercaseHex128(text) else { return nil }
        self.high = high
        self.low = low
    }

    public var description: String { hex16(high) + hex16(low) }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }

    /// Encoded as its 32-character string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = NodeID(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a node id is 32 lowercase hex characters, not \"\(text)\"")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The zone a data node says it is in (`--zone`): a rack, a room, an availability zone.
/// Placement keeps a chunk's replicas in different zones where it can.
public enum NodeZone {
    /// The zone of a node started without `--zone`.
    public static let defaultName = "default"
    /// The longest zone name accepted.
    public static let nameBytesMax = 64

    /// Whether `name` is a zone name: 1–64 characters of `A–Z a–z 0–9 . _ -` (safe in JSON,
    /// log lines, metric labels and file names without quoting).
    public static func isValid(_ name: some StringProtocol) -> Bool {
        let utf8 = name.utf8
        return !utf8.isEmpty && utf8.count <= nameBytesMax && utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == 0x2e || byte == 0x5f || byte == 0x2d
        }
    }
}
