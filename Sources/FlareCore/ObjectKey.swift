/// Object keys: everything after `/object/` in a request path, percent-decoded.
public enum ObjectKey {
    /// Longest key in bytes of UTF-8.
    public static let bytesMax = 1024

    /// Why a key was refused.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let reason: String
        public var description: String { reason }
    }

    /// Decodes `%XX` escapes and checks the result: 1–1024 bytes of valid UTF-8 without
    /// control characters. Slashes and spaces are allowed.
    public static func decode(_ raw: some StringProtocol) throws(Invalid) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.utf8.count)
        var iterator = raw.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == 0x25 else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw Invalid(reason: "malformed percent-escape in key")
            }
            bytes.append(high << 4 | low)
        }
        return try validate(bytes)
    }

    /// Checks an already-decoded key.
    public static func validate(_ bytes: [UInt8]) throws(Invalid) -> String {
        guard !bytes.isEmpty else { throw Invalid(reason: "empty key") }
        guard bytes.count <= bytesMax else { throw Invalid(reason: "key longer than \(bytesMax) bytes") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Invalid(reason: "key is not valid UTF-8") }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f || (0x80...0x9f).contains($0.value) }) else {
            throw Invalid(reason: "key contains control characters")
        }
        return text
    }

    /// Percent-encodes a key for use in a URL path (keeps unreserved characters and `/`).
    public static func encode(_ key: String) -> String {
        var out = ""
        for byte in key.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5a, 0x61...0x7a, 0x2d, 0x2e, 0x5f, 0x7e, 0x2f:
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
