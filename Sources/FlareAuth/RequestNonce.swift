import FlareCore

/// 128 random bits a signer puts in every request, so that a data node can tell a request
/// sent again (a replay) from a new one with the same method, target and second.
public struct RequestNonce: Sendable, Hashable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// From the system's random source (getrandom(2) on Linux: a CSPRNG).
    public static func random() -> RequestNonce {
        var generator = SystemRandomNumberGenerator()
        return RequestNonce(high: generator.next(), low: generator.next())
    }

    /// From its 32 lowercase hex digits.
    public init?(_ text: Substring) {
        guard let bytes = Hex.decodeLowercase(text, count: 16) else { return nil }
        high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// 32 lowercase hex digits.
    public var description: String {
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
        return Hex.encode(bytes)
    }
}
