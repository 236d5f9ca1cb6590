import FlareCore

/// The on-disk layout of a chunk file (format version 1):
///
///     [data][zero padding to 4 KiB][footer: 4 KiB]
///
/// The data sits at offset 0, so the buffer a body was received into is written as is with
/// O_DIRECT; the footer is appended in the same buffer. The footer holds a CRC32C per
/// 4 MiB segment, so a reader verifies every segment before sending a byte of it, also for
/// ranges, without reading the whole chunk first.
///
/// Footer (little-endian): magic "FLRCHNK1" · version u32 · segment bytes u32 · id 16 B ·
/// length u64 · CRC32C of all data u32 · segment count u32 · segment CRC32Cs u32… ·
/// (at 4092) CRC32C of the footer's first 4092 bytes.
public enum ChunkFormat {
    public static let blockBytes = 4096
    public static let footerBytes = 4096
    /// Data bytes per verified segment; also the data node's buffer size (plus a footer).
    public static let segmentBytes = 4 << 20
    public static let version: UInt32 = 1
    static let magic = Array("FLRCHNK1".utf8)
    static let segmentCRCOffset = 48
    static let footerCRCOffset = footerBytes - 4
    /// Most segments a footer can list: bounds the largest chunk at ~4 GiB.
    public static let segmentsMax = (footerCRCOffset - segmentCRCOffset) / 4

    /// Rounds up to whole 4 KiB blocks.
    public static func padded(_ count: Int) -> Int { (count + blockBytes - 1) / blockBytes * blockBytes }

    /// Segments for `length` data bytes (an empty chunk has one, empty).
    public static func segmentCount(_ length: Int) -> Int { max(1, (length + segmentBytes - 1) / segmentBytes) }

    /// The file size of a chunk of `length` bytes.
    public static func fileBytes(_ length: Int) -> Int { padded(length) + footerBytes }
}

/// What a chunk's footer says about it.
public struct ChunkFooter: Equatable, Sendable {
    public var id: ChunkID
    public var length: Int
    public var crc32c: UInt32
    public var segmentCRCs: [UInt32]

    public init(id: ChunkID, length: Int, crc32c: UInt32, segmentCRCs: [UInt32]) {
        self.id = id
        self.length = length
        self.crc32c = crc32c
        self.segmentCRCs = segmentCRCs
    }

    /// Writes the footer into `block` (at least ``ChunkFormat/footerBytes``).
    public func encode(into block: UnsafeMutableRawBufferPointer) {
        precondition(block.count >= ChunkFormat.footerBytes && segmentCRCs.count <= ChunkFormat.segmentsMax)
        let footer = UnsafeMutableRawBufferPointer(rebasing: block[0..<ChunkFormat.footerBytes])
        footer.initializeMemory(as: UInt8.self, repeating: 0)
        footer.copyBytes(from: ChunkFormat.magic)
        footer.storeBytes(of: ChunkFormat.version.littleEndian, toByteOffset: 8, as: UInt32.self)
        footer.storeBytes(of: UInt32(ChunkFormat.segmentBytes).littleEndian, toByteOffset: 12, as: UInt32.self)
        for (index, byte) in id.bytes.enumerated() { footer[16 + index] = byte }
        footer.storeBytes(of: UInt64(length).littleEndian, toByteOffset: 32, as: UInt64.self)
        footer.storeBytes(of: crc32c.littleEndian, toByteOffset: 40, as: UInt32.self)
        footer.storeBytes(of: UInt32(segmentCRCs.count).littleEndian, toByteOffset: 44, as: UInt32.self)
        for (index, crc) in segmentCRCs.enumerated() {
            footer.storeBytes(of: crc.littleEndian, toByteOffset: ChunkFormat.segmentCRCOffset + 4 * index, as: UInt32.self)
        }
        let own = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: footer[0..<ChunkFormat.footerCRCOffset]))
        footer.storeBytes(of: own.littleEndian, toByteOffset: ChunkFormat.footerCRCOffset, as: UInt32.self)
    }

    /// Reads a footer, checking magic, version, its own CRC and internal consistency.
    /// - Returns: the footer, or why it is not one.
    public static func decode(_ block: UnsafeRawBufferPointer) -> Result<ChunkFooter, ChunkCorruption> {
        guard block.count >= ChunkFormat.footerBytes else { return .failure(.init("footer truncated")) }
        guard Array(block[0..<8]) == ChunkFormat.magic else { return .failure(.init("bad footer magic")) }
        let own = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: block[0..<ChunkFormat.footerCRCOffset]))
        guard own == UInt32(littleEndian: block.loadUnaligned(fromByteOffset: ChunkFormat.footerCRCOffset, as: UInt32.self)) else {
            return .failure(.init("footer checksum mismatch"))
        }
        let version = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard version == ChunkFormat.version else { return .failure(.init("unknown chunk format version \(version)")) }
        let segmentBytes = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard segmentBytes == UInt32(ChunkFormat.segmentBytes) else { return .failure(.init("unexpected segment size \(segmentBytes)")) }
        let id = ChunkID(bytes: block[16..<32])
        let length = UInt64(littleEndian: block.loadUnaligned(fromByteOffset: 32, as: UInt64.self))
        let crc = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 40, as: UInt32.self))
        let count = Int(UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 44, as: UInt32.self)))
        guard length <= UInt64(ChunkFormat.segmentsMax * ChunkFormat.segmentBytes),
              count == ChunkFormat.segmentCount(Int(length)) else {
            return .failure(.init("footer length and segment count disagree"))
        }
        let segments = (0..<count).map {
            UInt32(littleEndian: block.loadUnaligned(fromByteOffset: ChunkFormat.segmentCRCOffset + 4 * $0, as: UInt32.self))
        }
        return .success(ChunkFooter(id: id, length: Int(length), crc32c: crc, segmentCRCs: segments))
    }
}

/// Why stored bytes cannot be trusted.
public struct ChunkCorruption: Error, Equatable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
