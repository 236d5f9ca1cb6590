import FlareCore

/// The whole-object checksums S3 lets a client send, in a header before the body or in a
/// trailer after it (`x-amz-checksum-<name>`), each base64 of the big-endian digest.
///
/// CRC64NVME and SHA-1 are not accepted: the clients in notes/s3-clients.md default to CRC32
/// and need awscrt for anything else; a request naming one is refused, not silently unchecked.
public enum S3ChecksumAlgorithm: String, Sendable, Equatable, CaseIterable {
    case crc32
    case crc32c
    case sha256

    /// `x-amz-checksum-crc32` and so on, lowercase, as a header or a trailer is named.
    public var headerName: String { "x-amz-checksum-" + rawValue }

    /// Digest length in bytes: what a base64 value must decode to.
    public var digestByteCount: Int {
        switch self {
        case .crc32, .crc32c: 4
        case .sha256: 32
        }
    }

    /// The algorithm a header or trailer name stands for (case-insensitive); `nil` when the
    /// name is not an `x-amz-checksum-*` name at all.
    public init?(headerName name: String) {
        let lower = name.lowercased()
        guard lower.hasPrefix("x-amz-checksum-") else { return nil }
        guard let algorithm = S3ChecksumAlgorithm(rawValue: String(lower.dropFirst(15))) else { return nil }
        self = algorithm
    }
}

/// One checksum value: an algorithm and its digest bytes.
public struct S3Checksum: Sendable, Equatable {
    public let algorithm: S3ChecksumAlgorithm
    /// The digest, big-endian for the CRCs (as S3 encodes them).
    public let digest: [UInt8]

    public init(algorithm: S3ChecksumAlgorithm, digest: [UInt8]) {
        precondition(digest.count == algorithm.digestByteCount, "a \(algorithm) digest is \(algorithm.digestByteCount) bytes")
        self.algorithm = algorithm
        self.digest = digest
    }

    /// The header value: base64 of the digest.
    public var base64: String { S3ChecksumEncoding.base64(digest) }
}

/// Why a request's digests were refused, with the S3 error code each is answered with.
public enum S3DigestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `Content-MD5` is not base64 of 16 bytes.
    case invalidContentMD5(value: String)
    /// An `x-amz-checksum-*` value is not base64 of the algorithm's digest length.
    case invalidChecksum(name: String, value: String)
    /// An `x-amz-checksum-*` name for an algorithm Flare does not compute.
    case unsupportedChecksum(name: String)
    /// More than one whole-object checksum on one request (headers and trailer together).
    case multipleChecksums(first: String, second: String)
    /// `x-amz-content-sha256` is neither 64 hex digits nor one of the literal modes.
    case invalidContentSHA256(value: String)
    /// The body does not match `Content-MD5`.
    case contentMD5Mismatch(expected: String, computed: String)
    /// The body does not match its `x-amz-checksum-*`.
    case checksumMismatch(algorithm: S3ChecksumAlgorithm, expected: String, computed: String)
    /// The body does not match the hex `x-amz-content-sha256` (which the signature covered).
    case contentSHA256Mismatch(expected: String, computed: String)
    /// `x-amz-trailer` announced a checksum the body's trailer did not carry.
    case missingTrailerChecksum(name: String)

    /// The S3 error code.
    public var s3Code: String {
        switch self {
        case .invalidContentMD5: "InvalidDigest"
        case .invalidChecksum, .unsupportedChecksum, .multipleChecksums: "InvalidRequest"
        case .invalidContentSHA256: "InvalidArgument"
        case .contentMD5Mismatch, .checksumMismatch: "BadDigest"
        case .contentSHA256Mismatch: "XAmzContentSHA256Mismatch"
        case .missingTrailerChecksum: "MalformedTrailerError"
        }
    }

    /// Every digest failure is the client's: 400.
    public var status: Int { 400 }

    public var description: String {
        switch self {
        case .invalidContentMD5(let value): "Content-MD5 \"\(value)\" is not base64 of 16 bytes"
        case .invalidChecksum(let name, let value): "\(name) \"\(value)\" is not a valid base64 digest"
        case .unsupportedChecksum(let name): "\(name) is not a checksum Flare verifies"
        case .multipleChecksums(let first, let second): "one checksum per request, got \(first) and \(second)"
        case .invalidContentSHA256(let value): "x-amz-content-sha256 \"\(value)\" is not a hex SHA-256 or a payload mode"
        case .contentMD5Mismatch(let expected, let computed): "Content-MD5 \(expected) but the body's is \(computed)"
        case .checksumMismatch(let algorithm, let expected, let computed):
            "\(algorithm.headerName) \(expected) but the body's is \(computed)"
        case .contentSHA256Mismatch(let expected, let computed):
            "x-amz-content-sha256 \(expected) but the body's is \(computed)"
        case .missingTrailerChecksum(let name): "x-amz-trailer named \(name) but the trailer did not carry it"
        }
    }
}

/// Parsing of the headers (and trailers) that carry a body's expected digests.
public enum S3ChecksumHeader {
    /// The checksum a header or trailer carries; `nil` when `name` is not `x-amz-checksum-*`.
    ///
    /// `x-amz-checksum-algorithm` (SDKs send it beside the value, and on CreateMultipartUpload),
    /// `x-amz-checksum-type` and `x-amz-checksum-mode` (GetObject's "send me the checksum")
    /// name no digest and are not checksums: `nil`.
    public static func parse(name: String, value: String) throws(S3DigestError) -> S3Checksum? {
        let lower = name.lowercased()
        guard lower.hasPrefix("x-amz-checksum-"), !notChecksums.contains(lower) else { return nil }
        guard let algorithm = S3ChecksumAlgorithm(headerName: lower) else { throw .unsupportedChecksum(name: lower) }
        guard let digest = S3ChecksumEncoding.decodeBase64(trimmed(value)), digest.count == algorithm.digestByteCount
        else { throw .invalidChecksum(name: lower, value: value) }
        return S3Checksum(algorithm: algorithm, digest: digest)
    }

    /// The 16 bytes of a `Content-MD5` header (base64, RFC 1864).
    public static func parseContentMD5(_ value: String) throws(S3DigestError) -> [UInt8] {
        guard let digest = S3ChecksumEncoding.decodeBase64(trimmed(value)), digest.count == 16
        else { throw .invalidContentMD5(value: value) }
        return digest
    }

    /// The 32 bytes of a hex `x-amz-content-sha256`; `nil` for the literal modes
    /// (`UNSIGNED-PAYLOAD`, `STREAMING-…`), which name no hash of the body.
    public static func parseContentSHA256(_ value: String) throws(S3DigestError) -> [UInt8]? {
        if value == "UNSIGNED-PAYLOAD" || value.hasPrefix("STREAMING-") { return nil }
        guard let digest = Hex.decode(value), digest.count == 32
        else { throw .invalidContentSHA256(value: value) }
        return digest
    }

    /// The algorithm `x-amz-trailer` announces (`x-amz-checksum-crc32`): what the trailer must
    /// carry. `nil` for a trailer that is not a checksum.
    public static func parseTrailerDeclaration(_ value: String) throws(S3DigestError) -> S3ChecksumAlgorithm? {
        let name = trimmed(value).lowercased()
        guard name.hasPrefix("x-amz-checksum-") else { return nil }
        guard let algorithm = S3ChecksumAlgorithm(headerName: name) else { throw .unsupportedChecksum(name: name) }
        return algorithm
    }

    private static let notChecksums: Set = ["x-amz-checksum-algorithm", "x-amz-checksum-type", "x-amz-checksum-mode"]

    static func trimmed(_ value: String) -> String {
        var view = Substring(value)
        while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
        return String(view)
    }
}

/// What one request says its body must hash to, gathered from its headers (and, for the
/// aws-chunked trailer framing, its trailer) and checked against `PayloadDigests` before
/// anything is committed.
public struct S3ExpectedDigests: Sendable, Equatable {
    /// From `Content-MD5`.
    public var contentMD5: [UInt8]?
    /// From a hex `x-amz-content-sha256`.
    public var contentSHA256: [UInt8]?
    /// From `x-amz-checksum-*`, header or trailer; S3 takes one per request.
    public private(set) var checksum: S3Checksum?
    /// Announced by `x-amz-trailer`, to arrive in the trailer.
    public var trailerChecksum: S3ChecksumAlgorithm?

    public init(contentMD5: [UInt8]? = nil, contentSHA256: [UInt8]? = nil, checksum: S3Checksum? = nil,
                trailerChecksum: S3ChecksumAlgorithm? = nil) {
        self.contentMD5 = contentMD5
        self.contentSHA256 = contentSHA256
        self.checksum = checksum
        self.trailerChecksum = trailerChecksum
    }

    /// Gathers the request headers' digests (names case-insensitive).
    public init(headers: [(name: String, value: String)]) throws(S3DigestError) {
        self.init()
        for (name, value) in headers {
            switch name.lowercased() {
            case "content-md5": contentMD5 = try S3ChecksumHeader.parseContentMD5(value)
            case "x-amz-content-sha256": contentSHA256 = try S3ChecksumHeader.parseContentSHA256(value)
            case "x-amz-trailer": trailerChecksum = try S3ChecksumHeader.parseTrailerDeclaration(value)
            default:
                if let parsed = try S3ChecksumHeader.parse(name: name, value: value) { try add(parsed) }
            }
        }
    }

    /// Adds a checksum from a header or the trailer; a second one is refused, since S3 would
    /// not say which of two it verified.
    public mutating func add(_ checksum: S3Checksum) throws(S3DigestError) {
        if let existing = self.checksum {
            throw .multipleChecksums(first: existing.algorithm.headerName, second: checksum.algorithm.headerName)
        }
        self.checksum = checksum
    }

    /// Adds the checksum the decoded trailer carries (what `x-amz-trailer` announced); other
    /// trailers are ignored. Call after the body's last byte, before `verify`.
    public mutating func addTrailers(_ trailers: [(name: String, value: String)]) throws(S3DigestError) {
        for (name, value) in trailers {
            if let parsed = try S3ChecksumHeader.parse(name: name, value: value) { try add(parsed) }
        }
        if let announced = trailerChecksum, checksum?.algorithm != announced {
            throw .missingTrailerChecksum(name: announced.headerName)
        }
    }

    /// What `PayloadHasher` must compute to check these: SHA-256 only for a hex
    /// `x-amz-content-sha256`, the one checksum sent or announced.
    public var hasherConfiguration: PayloadHasher.Configuration {
        PayloadHasher.Configuration(sha256: contentSHA256 != nil, checksum: checksum?.algorithm ?? trailerChecksum)
    }

    /// Checks the body's digests against every expectation; the first mismatch throws.
    public func verify(_ digests: PayloadDigests) throws(S3DigestError) {
        if let expected = contentMD5, expected != digests.md5 {
            throw .contentMD5Mismatch(expected: S3ChecksumEncoding.base64(expected), computed: digests.md5Base64)
        }
        if let expected = contentSHA256 {
            guard let computed = digests.sha256 else { preconditionFailure("verify needs the hasher configured with sha256") }
            if expected != computed {
                throw .contentSHA256Mismatch(expected: S3ChecksumEncoding.hex(expected), computed: S3ChecksumEncoding.hex(computed))
            }
        }
        if let expected = checksum {
            guard let computed = digests.checksum, computed.algorithm == expected.algorithm else {
                preconditionFailure("verify needs the hasher configured with \(expected.algorithm)")
            }
            if expected != computed {
                throw .checksumMismatch(algorithm: expected.algorithm, expected: expected.base64, computed: computed.base64)
            }
        }
    }
}

/// Hex and base64 as S3 headers spell them. Strict on input: no whitespace, no line breaks,
/// padding required, since a digest that decodes two ways is a digest not checked.
enum S3ChecksumEncoding {
    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Lowercase hex (FlareCore's ``Hex``).
    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 { Hex.encode(bytes) }

    /// Standard base64 with padding.
    static func base64(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            let b0 = bytes[index]
            let b1 = count > 1 ? bytes[index + 1] : 0
            let b2 = count > 2 ? bytes[index + 2] : 0
            out.append(base64Alphabet[Int(b0 >> 2)])
            out.append(base64Alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(count > 1 ? base64Alphabet[Int((b1 & 0x0f) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(count > 2 ? base64Alphabet[Int(b2 & 0x3f)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Standard padded base64; `nil` for anything else, including non-zero bits in the unused
    /// tail of the last group (so one digest has one spelling).
    static func decodeBase64(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 4 * 3)
        var index = 0
        while index < utf8.count {
            let last = index + 4 == utf8.count
            let padding = last ? (utf8[index + 3] == UInt8(ascii: "=") ? (utf8[index + 2] == UInt8(ascii: "=") ? 2 : 1) : 0) : 0
            var group: UInt32 = 0
            for offset in 0..<4 {
                let value: UInt32
                if offset >= 4 - padding {
                    value = 0
                } else {
                    guard let decoded = base64Value(utf8[index + offset]) else { return nil }
                    value = UInt32(decoded)
                }
                group = group << 6 | value
            }
            let bytes = [UInt8(group >> 16 & 0xff), UInt8(group >> 8 & 0xff), UInt8(group & 0xff)]
            if padding > 0, bytes[(3 - padding)...].contains(where: { $0 != 0 }) { return nil }
            out.append(contentsOf: bytes[..<(3 - padding)])
            index += 4
        }
        return out
    }

    private static func base64Value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
