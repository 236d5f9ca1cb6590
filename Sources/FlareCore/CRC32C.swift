import CISAL

/// CRC32C (Castagnoli), the checksum of every chunk, computed with ISA-L's `crc32_iscsi`
/// (SSE4.2 + PCLMUL; tens of GB/s on one core).
public struct CRC32C: Sendable, Equatable {
    /// The running, not yet finalised, state.
    private var state: UInt32 = 0xffff_ffff

    public init() {}

    /// Adds bytes to the checksum.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        // crc32_iscsi takes an Int32 length.
        while offset < bytes.count {
            let count = min(bytes.count - offset, 1 << 30)
            state = crc32_iscsi(UnsafeMutablePointer(mutating: (base + offset).assumingMemoryBound(to: UInt8.self)),
                                Int32(count), state)
            offset += count
        }
    }

    /// The checksum of everything added so far.
    public var value: UInt32 { state ^ 0xffff_ffff }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// `crc32c=<8 lowercase hex>`, the form of `X-Flare-Checksum`.
    public static func headerValue(_ value: UInt32) -> String {
        "crc32c=" + hex8(value)
    }

    /// Parses `crc32c=<8 hex>` (hex in either case); `nil` for anything else.
    public static func parseHeaderValue(_ text: String) -> UInt32? {
        guard text.hasPrefix("crc32c=") else { return nil }
        let digits = text.dropFirst(7)
        guard digits.count == 8, digits.utf8.allSatisfy({ isHexDigit($0) }) else { return nil }
        return UInt32(digits, radix: 16)
    }
}

/// Eight lowercase hex digits.
public func hex8(_ value: UInt32) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: 8 - text.count) + text
}

@inline(__always)
func isHexDigit(_ byte: UInt8) -> Bool {
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
}
