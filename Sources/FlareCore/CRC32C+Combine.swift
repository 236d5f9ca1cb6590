/// Combining checksums of pieces, for an object assembled from multipart parts without
/// reading its bytes again.
extension CRC32C {
    /// The CRC32C of A followed by B, from A's and B's CRC32C and B's length: zlib's
    /// `crc32_combine` (Mark Adler's method: apply `lengthB` zero bytes to A's CRC with
    /// GF(2) matrix squaring, then xor B's) for the Castagnoli polynomial. O(log lengthB).
    public static func combine(_ a: UInt32, _ b: UInt32, lengthB: Int) -> UInt32 {
        precondition(lengthB >= 0)
        guard lengthB > 0 else { return a }
        // The operator for one zero bit, then squared to two, four, … zero bits.
        var odd = [UInt32](repeating: 0, count: 32)
        odd[0] = 0x82F6_3B78  // reflected Castagnoli polynomial
        var row: UInt32 = 1
        for n in 1..<32 {
            odd[n] = row
            row <<= 1
        }
        var even = square(odd)  // two zero bits
        odd = square(even)  // four
        var crc = a
        var length = lengthB
        repeat {
            even = square(odd)  // the first time: one zero byte (eight bits)
            if length & 1 != 0 { crc = times(even, crc) }
            length >>= 1
            guard length != 0 else { break }
            odd = square(even)
            if length & 1 != 0 { crc = times(odd, crc) }
            length >>= 1
        } while length != 0
        return crc ^ b
    }

    private static func times(_ matrix: [UInt32], _ vector: UInt32) -> UInt32 {
        var sum: UInt32 = 0, vector = vector, index = 0
        while vector != 0 {
            if vector & 1 != 0 { sum ^= matrix[index] }
            vector >>= 1
            index += 1
        }
        return sum
    }

    private static func square(_ matrix: [UInt32]) -> [UInt32] {
        (0..<32).map { times(matrix, matrix[$0]) }
    }
}
