import FlareCore

/// Percent-encoding as SigV4 defines it: every byte but the unreserved `A–Z a–z 0–9 - _ . ~`
/// becomes `%XX` with uppercase hex.
enum S3URIEncoding {
    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5a, 0x61...0x7a, 0x2d, 0x2e, 0x5f, 0x7e: return true
        default: return false
        }
    }

    /// `text`'s UTF-8 with every byte but the unreserved ones (and `/` when `keepSlash`) encoded.
    static func encode(_ text: some StringProtocol, keepSlash: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) || (keepSlash && byte == 0x2f) {
                out.append(byte)
            } else {
                appendEscape(byte, to: &out)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The canonical URI of a path as sent. S3 signs the path the client sent, without
    /// normalizing it or encoding it twice, so existing `%XX` escapes are kept as they are; only
    /// bytes a client could not have meant literally in a signed path (raw spaces, raw UTF-8,
    /// `$`…) are encoded, as the signing client did before sending. An empty path is `/`.
    static func canonicalPath(_ path: Substring) -> String {
        guard !path.isEmpty else { return "/" }
        let bytes = Array(path.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x25, index + 2 < bytes.count, hexValue(bytes[index + 1]) != nil, hexValue(bytes[index + 2]) != nil {
                out.append(contentsOf: bytes[index...(index + 2)])
                index += 3
                continue
            }
            if isUnreserved(byte) || byte == 0x2f {
                out.append(byte)
            } else {
                appendEscape(byte, to: &out)
            }
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as it is, and bytes that
    /// are not UTF-8 after decoding become U+FFFD (such a name cannot match a signed one anyway).
    static func decode(_ text: some StringProtocol) -> String {
        guard text.utf8.contains(0x25) else { return String(text) }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x25, index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendEscape(_ byte: UInt8, to out: inout [UInt8]) {
        out.append(0x25)
        out.append(hexDigits[Int(byte >> 4)])
        out.append(hexDigits[Int(byte & 0x0f)])
    }

    static func hexValue(_ byte: UInt8) -> UInt8? { Hex.value(byte) }
}
