/// How a node is doing, as the api sees it.
///
/// New chunks go only to `up` nodes; reads try `suspect` and `down` copies last.
public enum NodeState: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Answering probes and requests.
    case up
    /// Failed a probe or a request just now: new chunks skip it until a probe succeeds.
    case suspect
    /// Has shown no sign of life for `downAfterSeconds`.
    case down

    /// Healthier first: up < suspect < down, the order reads try copies in.
    public static func < (lhs: NodeState, rhs: NodeState) -> Bool { lhs.rank < rhs.rank }

    private var rank: Int {
        switch self {
        case .up: 0
        case .suspect: 1
        case .down: 2
        }
    }
}

/// Why a node failed a probe or a request.
public struct NodeFailure: Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a flag: timeouts are told apart because they cost the most (a
    /// request waited the whole timeout), and `/health` shows them.
    public enum Kind: String, Sendable, Hashable {
        /// No answer within the timeout.
        case timeout
        /// Connect refused or reset, or the connection broke mid-request.
        case connection
        /// The node answered, but not healthily (e.g. `/health` said 503).
        case response
    }

    /// The longest message kept, in UTF-8 bytes: messages may quote what a node sent.
    public static let messageBytesMax = 256

    public let kind: Kind
    /// A short human-readable reason, cut to `messageBytesMax`.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = Self.truncated(message)
    }

    public var description: String { "\(kind.rawValue): \(message)" }

    private static func truncated(_ message: String) -> String {
        guard message.utf8.count > messageBytesMax else { return message }
        var cut = ""
        for character in message {
            guard cut.utf8.count + character.utf8.count <= messageBytesMax else { break }
            cut.append(character)
        }
        return cut
    }
}
