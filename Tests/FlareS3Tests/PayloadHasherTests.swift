import Crypto
import FlareCore
import FlareS3
import FlareTestSupport
import Testing


/// A bit-at-a-time CRC-32 (IEEE, reflected, polynomial 0xEDB88320): slow, and obviously the
/// definition, to check ISA-L's against.
func referenceCRC32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xffff_ffff
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

func lowerHex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

func bigEndianBytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
}

func hashPayload(_ data: [UInt8], _ configuration: PayloadHasher.Configuration, pieces: [Int] = []) -> PayloadDigests {
    var hasher = PayloadHasher(configuration)
    var start = 0
    for size in pieces + [data.count] where start < data.count {
        let end = min(data.count, start + size)
        data[start..<end].withUnsafeBytes { hasher.update($0) }
        start = end
    }
    return hasher.finalize()
}

/// 1 MiB from a seeded generator: the same bytes every run.
func seededPattern(byteCount: Int, seed: UInt64) -> [UInt8] {
    var generator = SeededGenerator(seed: seed)
    return (0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

@Suite struct PayloadHasherTests {
    struct Vector: Sendable, CustomStringConvertible {
        let input: String
        let md5: String
        let sha256: String
        let crc32: UInt32
        let crc32c: UInt32
        var description: String { input.debugDescription }
    }

    static let vectors = [
        Vector(input: "", md5: "d41d8cd98f00b204e9800998ecf8427e",
               sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", crc32: 0, crc32c: 0),
        Vector(input: "abc", md5: "900150983cd24fb0d6963f7d28e17f72",
               sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
               crc32: 0x3524_41c2, crc32c: 0x364b_3fb7),
        Vector(input: "123456789", md5: "25f9e794323b453885f5181f1b624d0b",
               sha256: "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
               crc32: 0xcbf4_3926, crc32c: 0xe306_9283),
    ]

    @Test(arguments: vectors)
    func knownVectors(vector: Vector) {
        let data = Array(vector.input.utf8)
        let crc32 = hashPayload(data, .init(sha256: true, checksum: .crc32))
        #expect(crc32.md5Hex == vector.md5)
        #expect(crc32.sha256Hex == vector.sha256)
        #expect(crc32.checksum?.digest == bigEndianBytes(vector.crc32))
        let crc32c = hashPayload(data, .init(checksum: .crc32c))
        #expect(crc32c.checksum?.digest == bigEndianBytes(vector.crc32c))
        #expect(crc32c.sha256 == nil, "SHA-256 only when asked")
        let sha256 = hashPayload(data, .init(checksum: .sha256))
        #expect(sha256.checksum?.digest == S3ChecksumEncodingProbe.hexBytes(vector.sha256))
        #expect(sha256.sha256 == nil, "the checksum's SHA-256 is not x-amz-content-sha256's")
        #expect(crc32.byteCount == data.count)
    }

    @Test func headerEncodingsAreS3s() {
        let digests = hashPayload(Array("small\n".utf8), .init(checksum: .crc32))
        #expect(digests.checksumBase64 == "thwCpw==")
        let abc = hashPayload(Array("abc".utf8), .init(sha256: true, checksum: .sha256))
        #expect(abc.md5Base64 == "kAFQmDzST7DWlj99KOF/cg==")
        #expect(abc.checksumBase64 == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        let crc32c = hashPayload(Array("abc".utf8), .init(checksum: .crc32c))
        #expect(crc32c.checksumBase64 == "Nks/tw==")
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func oneMebibyteInRandomSplitsMatchesOneShot(seed: UInt64) {
        let data = seededPattern(byteCount: 1 << 20, seed: 0xF1A2E)
        let whole = hashPayload(data, .init(sha256: true, checksum: .crc32))
        let split = hashPayload(data, .init(sha256: true, checksum: .crc32), pieces: randomPieces(count: data.count, seed: seed))
        #expect(whole == split, "seed \(seed)")
        #expect(whole.md5 == Array(Insecure.MD5.hash(data: data)))
        #expect(whole.sha256 == Array(SHA256.hash(data: data)))
        #expect(whole.checksum?.digest == bigEndianBytes(referenceCRC32(data)))

        let crc32c = hashPayload(data, .init(checksum: .crc32c), pieces: randomPieces(count: data.count, seed: seed))
        #expect(crc32c.checksum?.digest == bigEndianBytes(data.withUnsafeBytes { CRC32C.checksum($0) }))
    }

    /// Prints MB/s of each digest alone over 64 MiB on one core; measures, asserts nothing.
    @Test func speedOf64MiB() {
        let data = seededPattern(byteCount: 1 << 20, seed: 9)
        let rounds = 64
        func measure(_ name: String, _ body: (UnsafeRawBufferPointer) -> Void) {
            let start = ContinuousClock.now
            data.withUnsafeBytes { raw in for _ in 0..<rounds { body(raw) } }
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print("hash speed: \(name) \(Int(Double(rounds * data.count) / seconds / 1e6)) MB/s over 64 MiB")
        }
        var md5 = Insecure.MD5()
        measure("MD5") { md5.update(bufferPointer: $0) }
        var sha256 = SHA256()
        measure("SHA-256") { sha256.update(bufferPointer: $0) }
        var crc32: UInt32 = 0
        measure("CRC32 (ISA-L)") { crc32 = PayloadHasher.crc32(crc32, $0) }
        var crc32c = CRC32C()
        measure("CRC32C (ISA-L)") { crc32c.update($0) }
        var hasher = PayloadHasher(.init(checksum: .crc32))
        measure("PayloadHasher MD5+CRC32") { hasher.update($0) }
        _ = (md5.finalize(), sha256.finalize(), crc32, crc32c.value, hasher.finalize())
    }
}

/// Hex of a published vector, to compare with digest bytes.
enum S3ChecksumEncodingProbe {
    static func hexBytes(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            out.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return out
    }
}

@Suite struct S3ChecksumHeaderTests {
    @Test func parsesEachChecksumHeader() throws {
        let crc32 = try S3ChecksumHeader.parse(name: "X-Amz-Checksum-CRC32", value: "thwCpw==")
        #expect(crc32 == S3Checksum(algorithm: .crc32, digest: [0xb6, 0x1c, 0x02, 0xa7]))
        let crc32c = try S3ChecksumHeader.parse(name: "x-amz-checksum-crc32c", value: " Nks/tw== ")
        #expect(crc32c?.algorithm == .crc32c)
        let sha = try S3ChecksumHeader.parse(name: "x-amz-checksum-sha256", value: "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        #expect(sha?.digest == S3ChecksumEncodingProbe.hexBytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        #expect(try S3ChecksumHeader.parse(name: "x-amz-checksum-algorithm", value: "CRC32") == nil)
        #expect(try S3ChecksumHeader.parse(name: "x-amz-checksum-mode", value: "ENABLED") == nil)
        #expect(try S3ChecksumHeader.parse(name: "content-type", value: "text/plain") == nil)
    }

    @Test(arguments: ["thwCpw=", "thwCpw", "thwCpx==", "thwC pw==", "AAAAAAAA", "", "!!!!!!=="])
    func refusesMalformedChecksum(value: String) {
        let error = #expect(throws: S3DigestError.self) { _ = try S3ChecksumHeader.parse(name: "x-amz-checksum-crc32", value: value) }
        #expect(error?.s3Code == "InvalidRequest", "\(value.debugDescription)")
    }

    @Test func refusesChecksumsFlareDoesNotCompute() {
        let error = #expect(throws: S3DigestError.self) { _ = try S3ChecksumHeader.parse(name: "x-amz-checksum-crc64nvme", value: "AAAAAAAAAAA=") }
        #expect(error == .unsupportedChecksum(name: "x-amz-checksum-crc64nvme"))
    }

    @Test func contentMD5() throws {
        #expect(try S3ChecksumHeader.parseContentMD5("kAFQmDzST7DWlj99KOF/cg==") == S3ChecksumEncodingProbe.hexBytes("900150983cd24fb0d6963f7d28e17f72"))
        let error = #expect(throws: S3DigestError.self) { _ = try S3ChecksumHeader.parseContentMD5("900150983cd24fb0d6963f7d28e17f72") }
        #expect(error?.s3Code == "InvalidDigest")
    }

    @Test func contentSHA256Modes() throws {
        #expect(try S3ChecksumHeader.parseContentSHA256("UNSIGNED-PAYLOAD") == nil)
        #expect(try S3ChecksumHeader.parseContentSHA256("STREAMING-UNSIGNED-PAYLOAD-TRAILER") == nil)
        #expect(try S3ChecksumHeader.parseContentSHA256(String(repeating: "ab", count: 32))?.count == 32)
        let error = #expect(throws: S3DigestError.self) { _ = try S3ChecksumHeader.parseContentSHA256("abc") }
        #expect(error?.s3Code == "InvalidArgument")
    }

    @Test func verifiesEveryDigestSent() throws {
        let body = Array("abc".utf8)
        let headers: [(name: String, value: String)] = [
            ("Content-MD5", "kAFQmDzST7DWlj99KOF/cg=="),
            ("x-amz-content-sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("x-amz-checksum-crc32c", "Nks/tw=="),
        ]
        let expected = try S3ExpectedDigests(headers: headers)
        #expect(expected.hasherConfiguration == .init(sha256: true, checksum: .crc32c))
        try expected.verify(hashPayload(body, expected.hasherConfiguration))

        let other = hashPayload(Array("abd".utf8), expected.hasherConfiguration)
        let error = #expect(throws: S3DigestError.self) { try expected.verify(other) }
        #expect(error?.s3Code == "BadDigest")
    }

    @Test func mismatchCodes() throws {
        let abd = Array("abd".utf8)
        let sha = try S3ExpectedDigests(headers: [("x-amz-content-sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")])
        let shaError = #expect(throws: S3DigestError.self) { try sha.verify(hashPayload(abd, sha.hasherConfiguration)) }
        #expect(shaError?.s3Code == "XAmzContentSHA256Mismatch")

        let crc = try S3ExpectedDigests(headers: [("x-amz-checksum-crc32", "NSRBwg==")])
        try crc.verify(hashPayload(Array("abc".utf8), crc.hasherConfiguration))
        let crcError = #expect(throws: S3DigestError.self) { try crc.verify(hashPayload(abd, crc.hasherConfiguration)) }
        #expect(crcError == .checksumMismatch(algorithm: .crc32, expected: "NSRBwg==",
                                               computed: hashPayload(abd, crc.hasherConfiguration).checksumBase64!))
    }

    @Test func oneChecksumPerRequest() {
        let error = #expect(throws: S3DigestError.self) {
            _ = try S3ExpectedDigests(headers: [("x-amz-checksum-crc32", "NSRBwg=="), ("x-amz-checksum-crc32c", "Nks/tw==")])
        }
        #expect(error?.s3Code == "InvalidRequest")
    }

    @Test func announcedTrailerChecksumMustArrive() throws {
        var expected = try S3ExpectedDigests(headers: [("x-amz-trailer", "x-amz-checksum-crc32c")])
        let error = #expect(throws: S3DigestError.self) { try expected.addTrailers([(name: "x-amz-checksum-crc32", value: "NSRBwg==")]) }
        #expect(error == .missingTrailerChecksum(name: "x-amz-checksum-crc32c"))
        #expect(error?.s3Code == "MalformedTrailerError")
    }
}
