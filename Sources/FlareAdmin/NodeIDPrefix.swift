/// A node id as an operator types it: the whole 32 hex digits, or a start of them that
/// names one node of the layout.
public struct NodeIDPrefix: Sendable, Equatable, CustomStringConvertible {
    /// Hex digits of a whole node id.
    public static let idLength = 32

    /// Lowercase hex, 1…32 digits.
    public let text: String

    /// - Returns: `nil` unless `text` is 1…32 hex digits (either case).
    public init?(_ text: String) {
        let lower = text.lowercased()
        guard (1...Self.idLength).contains(lower.utf8.count), lower.utf8.allSatisfy(Self.isHexDigit) else { return nil }
        self.text = lower
    }

    /// Whether this is a whole id, which needs no look-up: the api judges it.
    public var isWholeID: Bool { text.utf8.count == Self.idLength }

    public var description: String { text }

    /// The one node whose id starts with this prefix.
    /// - Throws: ``AdminError/unknownNode(prefix:known:)`` or ``AdminError/ambiguousNode(prefix:matches:)``.
    public func resolve(in nodes: [AdminNode]) throws(AdminError) -> AdminNode {
        let matches = nodes.filter { $0.id.lowercased().hasPrefix(text) }
        guard let first = matches.first else { throw .unknownNode(prefix: text, known: nodes.count) }
        guard matches.count == 1 else {
            throw .ambiguousNode(prefix: text, matches: matches.map { "\($0.id) at \($0.address)" })
        }
        return first
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}
