/// A chunk's identity: 128 random bits, written as 32 lowercase hex characters.
///
/// Data nodes accept exactly that form, so an id can never name a path outside the chunk
/// tree (no dots, slashes or upper-case aliases).
public struct ChunkID: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A fresh random id.
    public static func random() -> ChunkID {
        var generator = SystemRandomNumberGenerator()
        return ChunkID(high: generator.next(), low: generator.next())
    }

    /// Parses exactly 32 lowercase hex characters.
    public init?(_ text: some StringProtocol) {
        guard let (high, low) = parseLowercaseHex128(text) else { return nil }
        self.high = high
        self.low = low
    }

    public var description: String { hex16(high) + hex16(low) }

    /// The first two hex characters: the chunk's directory on a data node.
    public var shard: String { String(description.prefix(2)) }

    /// The 16 bytes, big-endian.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) } + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    public init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 16)
        let array = Array(bytes)
        high = array[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = array[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    public static func < (lhs: ChunkID, rhs: ChunkID) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }
}

/// The two halves of exactly 32 lowercase hex characters (the form of chunk and node ids),
/// or `nil` for anything else: upper case, signs, spaces and other lengths are refused, so
/// each id has one spelling.
func parseLowercaseHex128(_ text: some StringProtocol) -> (high: UInt64, low: UInt64)? {
    let utf8 = Array(text.utf8)
    guard utf8.count == 32,
          utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }),
          let high = UInt64(String(decoding: utf8[0..<16], as: UTF8.self), radix: 16),
          let low = UInt64(String(decoding: utf8[16..<32], as: UTF8.self), radix: 16) else { return nil }
    return (high, low)
}

func hex16(_ value: UInt64) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: 16 - text.count) + text
}
