import CISAL
import Crypto
import FlareCore

/// The digests of one request body, computed in one pass over it: MD5 always (the ETag
/// clients verify), and only what the request asked to be checked besides — SHA-256 for a
/// hex `x-amz-content-sha256`, the one `x-amz-checksum-*` sent or announced — since each
/// costs a core at a few hundred MB/s to a few GB/s.
///
/// `@unchecked Sendable`: swift-crypto's hash states do not declare `Sendable`, but they are
/// copy-on-write values (a private context copied when not uniquely referenced), so a hasher
/// moved to another thread, as the PUT path moves it off the event loop, shares nothing.
public struct PayloadHasher: @unchecked Sendable {
    /// Which digests to compute beside MD5.
    public struct Configuration: Sendable, Equatable {
        /// SHA-256 of the body, hex, for `x-amz-content-sha256`.
        public var sha256: Bool
        /// The `x-amz-checksum-*` to compute.
        public var checksum: S3ChecksumAlgorithm?

        public init(sha256: Bool = false, checksum: S3ChecksumAlgorithm? = nil) {
            self.sha256 = sha256
            self.checksum = checksum
        }
    }

    public let configuration: Configuration
    private var md5 = Insecure.MD5()
    /// One SHA-256 serves both `x-amz-content-sha256` and `x-amz-checksum-sha256`.
    private var sha256: SHA256?
    private var crc32: UInt32?
    private var crc32c: CRC32C?
    /// Bytes hashed so far.
    public private(set) var byteCount = 0

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
        if configuration.sha256 || configuration.checksum == .sha256 { sha256 = SHA256() }
        switch configuration.checksum {
        case .crc32: crc32 = 0
        case .crc32c: crc32c = CRC32C()
        case .sha256, nil: break
        }
    }

    /// Adds the next bytes of the body.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        md5.update(bufferPointer: bytes)
        sha256?.update(bufferPointer: bytes)
        if let running = crc32 { crc32 = Self.crc32(running, bytes) }
        crc32c?.update(bytes)
        byteCount += bytes.count
    }

    /// The digests of everything added. The hasher is a value: finalising a copy leaves it
    /// usable, which the multipart path does not need but costs nothing.
    public func finalize() -> PayloadDigests {
        let md5Digest = Array(md5.finalize())
        let sha256Digest = sha256.map { Array($0.finalize()) }
        let checksum: S3Checksum? = switch configuration.checksum {
        case .crc32: S3Checksum(algorithm: .crc32, digest: Self.bigEndianBytes(crc32!))
        case .crc32c: S3Checksum(algorithm: .crc32c, digest: Self.bigEndianBytes(crc32c!.value))
        case .sha256: S3Checksum(algorithm: .sha256, digest: sha256Digest!)
        case nil: nil
        }
        return PayloadDigests(md5: md5Digest, sha256: configuration.sha256 ? sha256Digest : nil,
                              checksum: checksum, byteCount: byteCount)
    }

    /// CRC-32 (IEEE 802.3, reflected: zlib's and S3's `crc32`) continued over `bytes`; start
    /// from 0. ISA-L's `crc32_gzip_refl` does the pre- and post-inversion itself, so running
    /// values chain as zlib's do.
    public static func crc32(_ running: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return running }
        return crc32_gzip_refl(running, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    static func bigEndianBytes(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }
}

/// What `PayloadHasher.finalize()` found, in the forms S3 puts in headers.
public struct PayloadDigests: Sendable, Equatable {
    /// MD5, 16 bytes.
    public let md5: [UInt8]
    /// SHA-256, 32 bytes, when configured.
    public let sha256: [UInt8]?
    /// The configured `x-amz-checksum-*`.
    public let checksum: S3Checksum?
    /// Bytes hashed.
    public let byteCount: Int

    public init(md5: [UInt8], sha256: [UInt8]?, checksum: S3Checksum?, byteCount: Int) {
        self.md5 = md5
        self.sha256 = sha256
        self.checksum = checksum
        self.byteCount = byteCount
    }

    /// Lowercase hex MD5: a single PUT's ETag, unquoted.
    public var md5Hex: String { S3ChecksumEncoding.hex(md5) }
    /// Base64 MD5, the spelling of `Content-MD5`.
    public var md5Base64: String { S3ChecksumEncoding.base64(md5) }
    /// Lowercase hex SHA-256, the spelling of `x-amz-content-sha256`.
    public var sha256Hex: String? { sha256.map { S3ChecksumEncoding.hex($0) } }
    /// Base64 of the configured checksum, the value of its `x-amz-checksum-*` header.
    public var checksumBase64: String? { checksum?.base64 }
}
