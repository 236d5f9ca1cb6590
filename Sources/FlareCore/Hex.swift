/// Lowercase hexadecimal, as Flare writes digests, signatures, nonces and ids (SigV4 and S3's
/// MD5 ETags too): one codec for every module.
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The lowercase hex of `bytes`.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Hex in either case; `nil` for an odd length or a non-hex digit.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        decode(Array(text.utf8), value: value)
    }

    /// Exactly `count` bytes from lowercase hex; `nil` for another length, an upper-case or a
    /// non-hex digit (what a signer writes has one spelling only).
    public static func decodeLowercase(_ text: some StringProtocol, count: Int) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count == count * 2 else { return nil }
        return decode(utf8) { byte in (0x41...0x46).contains(byte) ? nil : value(byte) }
    }

    /// One hex digit's value, either case; `nil` for anything else.
    @inline(__always)
    public static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func decode(_ utf8: [UInt8], value: (UInt8) -> UInt8?) -> [UInt8]? {
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
