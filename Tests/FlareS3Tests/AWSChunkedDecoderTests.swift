import Crypto
import FlareS3
import FlareTestSupport
import Testing

/// AWS's published example of a signed chunked upload (S3 API reference, "Signature
/// Calculations for the Authorization Header: Transferring Payload in Multiple Chunks"):
/// 66,560 bytes of "a" as a 64 KiB chunk, a 1 KiB chunk and the empty last one, signed with the
/// documentation's example secret on 20130524 in us-east-1.
enum AWSExample {
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let amzDate = "20130524T000000Z"
    static let scope = "20130524/us-east-1/s3/aws4_request"
    static let seedSignature = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    static let chunkSignatures = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ]
    static let chunkSizes = [65536, 1024, 0]
    static var payload: [UInt8] { [UInt8](repeating: UInt8(ascii: "a"), count: 66560) }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    static var signingKey: [UInt8] {
        var key = Array(("AWS4" + secret).utf8)
        for part in ["20130524", "us-east-1", "s3", "aws4_request"] {
            key = Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: SymmetricKey(data: key)))
        }
        return key
    }

    static var signing: S3ChunkSigning {
        S3ChunkSigning(signingKey: signingKey, amzDate: amzDate, scope: scope, seedSignature: seedSignature)
    }

    /// The body as sent; `signatures` and `trailer` (lines, each without CRLF) let a test alter it.
    static func body(signatures: [String] = chunkSignatures, trailer: [String]? = nil) -> [UInt8] {
        var body: [UInt8] = []
        for (size, signature) in zip(chunkSizes, signatures) {
            body += Array((String(size, radix: 16) + ";chunk-signature=" + signature + "\r\n").utf8)
            if size > 0 { body += [UInt8](repeating: UInt8(ascii: "a"), count: size) + [0x0d, 0x0a] }
        }
        for line in trailer ?? [] { body += Array((line + "\r\n").utf8) }
        return body + [0x0d, 0x0a]
    }
}

/// Builds a signed aws-chunked body for any payload, chunk size and trailer, signing as the
/// SDKs do (the formula the AWS example checks), so larger and trailer-carrying bodies can be
/// tested beyond the published one.
struct SignedBodyBuilder {
    var signing = AWSExample.signing

    func sign(_ stringToSign: String) -> String {
        lowerHex(Array(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: SymmetricKey(data: signing.signingKey))))
    }

    func body(_ payload: [UInt8], chunkBytes: Int, trailer: [(name: String, value: String)]? = nil) -> [UInt8] {
        let chunks = stride(from: 0, to: payload.count, by: chunkBytes).map {
            Array(payload[$0..<min(payload.count, $0 + chunkBytes)])
        } + [[]]
        var body: [UInt8] = []
        var previous = signing.seedSignature
        for data in chunks {
            previous = sign(["AWS4-HMAC-SHA256-PAYLOAD", signing.amzDate, signing.scope, previous,
                             lowerHex(Array(SHA256.hash(data: [UInt8]()))), lowerHex(Array(SHA256.hash(data: data)))]
                .joined(separator: "\n"))
            body += utf8Bytes(String(data.count, radix: 16) + ";chunk-signature=" + previous + "\r\n") + data
            if !data.isEmpty { body += utf8Bytes("\r\n") }
        }
        if let trailer {
            let canonical = trailer.map { $0.name + ":" + $0.value + "\n" }.joined()
            for (name, value) in trailer { body += utf8Bytes(name + ":" + value + "\r\n") }
            let signature = sign(["AWS4-HMAC-SHA256-TRAILER", signing.amzDate, signing.scope, previous,
                                  lowerHex(Array(SHA256.hash(data: utf8Bytes(canonical))))].joined(separator: "\n"))
            body += utf8Bytes("x-amz-trailer-signature:" + signature + "\r\n")
        }
        return body + utf8Bytes("\r\n")
    }
}

/// Feeds `body` to `decoder` in pieces of the given sizes (the rest in one piece), then
/// finishes it; returns the decoded bytes.
func decodeChunked(_ body: [UInt8], _ decoder: inout AWSChunkedDecoder, pieces: [Int] = []) throws(AWSChunkedError) -> [UInt8] {
    var decoded: [UInt8] = []
    var start = 0
    for size in pieces + [body.count] where start < body.count {
        let end = min(body.count, start + size)
        try feedChunked(&decoder, body[start..<end]) { decoded.append(contentsOf: $0) }
        start = end
    }
    try decoder.finish()
    return decoded
}

/// One `feed`, with the typed error carried out of `withUnsafeBytes` (which rethrows untyped).
func feedChunked(_ decoder: inout AWSChunkedDecoder, _ piece: ArraySlice<UInt8>,
          into out: (UnsafeRawBufferPointer) -> Void = { _ in }) throws(AWSChunkedError) {
    let failure: AWSChunkedError? = piece.withUnsafeBytes { raw in
        do throws(AWSChunkedError) {
            try decoder.feed(raw, into: out)
            return nil
        } catch {
            return error
        }
    }
    if let failure { throw failure }
}

/// Random piece sizes, mostly small (to split headers and CRLFs), some large.
func randomPieces(count total: Int, seed: UInt64) -> [Int] {
    var generator = SeededGenerator(seed: seed)
    var pieces: [Int] = []
    var covered = 0
    while covered < total {
        let size = Bool.random(using: &generator) ? Int.random(in: 1...5, using: &generator)
                                                  : Int.random(in: 1...20000, using: &generator)
        pieces.append(size)
        covered += size
    }
    return pieces
}

func signedDecoder(trailer: Bool = false, expected: Int? = 66560) -> AWSChunkedDecoder {
    AWSChunkedDecoder(signing: AWSExample.signing, expectTrailer: trailer, decodedLengthMax: 1 << 20,
                      expectedDecodedLength: expected)
}

func unsignedDecoder(max: Int = 1 << 20) -> AWSChunkedDecoder {
    AWSChunkedDecoder(signing: nil, expectTrailer: true, decodedLengthMax: max)
}

func utf8Bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite struct AWSChunkedDecoderSignedTests {
    @Test func awsExampleFedWholeVerifiesEveryChunk() throws {
        var decoder = signedDecoder()
        let decoded = try decodeChunked(AWSExample.body(), &decoder)
        #expect(decoded == AWSExample.payload)
        #expect(decoder.isFinished)
        #expect(decoder.trailers.isEmpty)
        #expect(decoder.decodedLength == 66560)
    }

    @Test func awsExampleFedOneByteAtATime() throws {
        let body = AWSExample.body()
        var decoder = signedDecoder()
        let decoded = try decodeChunked(body, &decoder, pieces: [Int](repeating: 1, count: body.count))
        #expect(decoded == AWSExample.payload)
    }

    @Test(arguments: 1...40)
    func awsExampleFedInRandomSplits(seed: Int) throws {
        let body = AWSExample.body()
        var decoder = signedDecoder()
        let decoded = try decodeChunked(body, &decoder, pieces: randomPieces(count: body.count, seed: UInt64(seed)))
        #expect(decoded == AWSExample.payload, "seed \(seed)")
    }

    @Test func withoutDeclaredLengthTheChunksSetTheLength() throws {
        var decoder = signedDecoder(expected: nil)
        #expect(try decodeChunked(AWSExample.body(), &decoder).count == 66560)
    }

    /// aws-crt-swift's ChunkSignerTests signs trailers first:1st, second:2nd, third:3rd after
    /// the AWS example's last chunk: df5735bd….
    @Test func signedTrailerVerifies() throws {
        let trailer = ["first:1st", "second:2nd", "third:3rd",
                       "x-amz-trailer-signature:df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c"]
        let body = AWSExample.body(trailer: trailer)
        for pieces in [[], [Int](repeating: 1, count: body.count), randomPieces(count: body.count, seed: 7)] {
            var decoder = signedDecoder(trailer: true)
            #expect(try decodeChunked(body, &decoder, pieces: pieces) == AWSExample.payload)
            #expect(decoder.trailers.map(\.name) == ["first", "second", "third"])
            #expect(decoder.trailers.map(\.value) == ["1st", "2nd", "3rd"])
        }
    }

    /// What an SDK sends for STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: many chunks, a CRC32
    /// trailer, its signature; checked end to end with the hasher.
    @Test(arguments: [UInt64(11), 12, 13])
    func signedTrailerWithCRC32InRandomSplits(seed: UInt64) throws {
        let payload = seededPattern(byteCount: 300_000, seed: seed)
        var reference = PayloadHasher(.init(checksum: .crc32))
        payload.withUnsafeBytes { reference.update($0) }
        let checksum = reference.finalize().checksumBase64!
        let body = SignedBodyBuilder().body(payload, chunkBytes: 65536, trailer: [(name: "x-amz-checksum-crc32", value: checksum)])
        var decoder = AWSChunkedDecoder(signing: AWSExample.signing, expectTrailer: true, decodedLengthMax: 1 << 20,
                                        expectedDecodedLength: payload.count)
        let decoded = try decodeChunked(body, &decoder, pieces: randomPieces(count: body.count, seed: seed))
        #expect(decoded == payload)
        var expected = try S3ExpectedDigests(headers: [(name: "x-amz-trailer", value: "x-amz-checksum-crc32")])
        try expected.addTrailers(decoder.trailers)
        try expected.verify(hashPayload(decoded, expected.hasherConfiguration))
    }

    @Test func flippedDataByteFailsItsChunk() {
        var body = AWSExample.body()
        let secondChunkData = body.count - 1100
        body[secondChunkData] = UInt8(ascii: "b")
        var decoder = signedDecoder()
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(body, &decoder) }
        #expect(error?.reason == .chunkSignatureMismatch)
        #expect(error?.chunkIndex == 1)
        #expect(error?.s3Code == "SignatureDoesNotMatch")
        #expect(error?.status == 403)
    }

    @Test func wrongChunkSignatureFails() {
        var signatures = AWSExample.chunkSignatures
        signatures[0] = String(repeating: "0", count: 64)
        var decoder = signedDecoder()
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(AWSExample.body(signatures: signatures), &decoder) }
        #expect(error?.reason == .chunkSignatureMismatch)
        #expect(error?.chunkIndex == 0)
    }

    @Test func signaturesDoNotChainFromAnotherSeed() {
        let signing = S3ChunkSigning(signingKey: AWSExample.signingKey, amzDate: AWSExample.amzDate,
                                     scope: AWSExample.scope, seedSignature: String(repeating: "1", count: 64))
        var decoder = AWSChunkedDecoder(signing: signing, expectTrailer: false, decodedLengthMax: 1 << 20)
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(AWSExample.body(), &decoder) }
        #expect(error?.reason == .chunkSignatureMismatch)
    }

    @Test func missingChunkSignatureFails() {
        var decoder = signedDecoder(expected: nil)
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(utf8Bytes("3\r\nabc\r\n0\r\n\r\n"), &decoder) }
        #expect(error?.reason == .missingChunkSignature)
        #expect(error?.s3Code == "SignatureDoesNotMatch")
    }

    @Test func otherChunkExtensionFails() {
        var decoder = signedDecoder(expected: nil)
        let error = #expect(throws: AWSChunkedError.self) {
            _ = try decodeChunked(utf8Bytes("3;name=value\r\nabc\r\n"), &decoder)
        }
        #expect(error?.reason == .unsupportedChunkExtension)
        #expect(error?.s3Code == "InvalidRequest")
    }

    @Test func wrongTrailerSignatureFails() {
        let body = AWSExample.body(trailer: ["first:1st", "x-amz-trailer-signature:" + String(repeating: "a", count: 64)])
        var decoder = signedDecoder(trailer: true)
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(body, &decoder) }
        #expect(error?.reason == .trailerSignatureMismatch)
        #expect(error?.status == 403)
    }

    @Test func signedTrailerWithoutSignatureFails() {
        var decoder = signedDecoder(trailer: true)
        let error = #expect(throws: AWSChunkedError.self) {
            _ = try decodeChunked(AWSExample.body(trailer: ["x-amz-checksum-crc32:AAAAAA=="]), &decoder)
        }
        #expect(error?.reason == .missingTrailerSignature)
    }

    @Test func declaredLengthMustMatch() {
        var short = signedDecoder(expected: 70000)
        let shortError = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(AWSExample.body(), &short) }
        #expect(shortError?.reason == .decodedLengthShortOfDeclared(declared: 70000, decoded: 66560))
        #expect(shortError?.s3Code == "IncompleteBody")

        var over = signedDecoder(expected: 66000)
        let overError = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(AWSExample.body(), &over) }
        #expect(overError?.reason == .decodedLengthOverDeclared(declared: 66000))
        #expect(overError?.chunkIndex == 1)
    }
}

@Suite struct AWSChunkedDecoderUnsignedTests {
    /// What boto3 1.43 sends over HTTPS (notes/s3-clients.md), inside the HTTP chunking.
    static let boto3Body = utf8Bytes("6\r\nsmall\n\r\n0\r\nx-amz-checksum-crc32:thwCpw==\r\n\r\n")

    @Test func boto3TrailerBodyDecodesAndItsCRC32Verifies() throws {
        for pieces in [[], [Int](repeating: 1, count: Self.boto3Body.count), randomPieces(count: Self.boto3Body.count, seed: 3)] {
            var decoder = AWSChunkedDecoder(signing: nil, expectTrailer: true, decodedLengthMax: 1 << 20,
                                            expectedDecodedLength: 6)
            let decoded = try decodeChunked(Self.boto3Body, &decoder, pieces: pieces)
            #expect(decoded == utf8Bytes("small\n"))
            #expect(decoder.trailers.count == 1)
            #expect(decoder.trailers.first?.name == "x-amz-checksum-crc32")
            #expect(decoder.trailers.first?.value == "thwCpw==")

            var expected = try S3ExpectedDigests(headers: [(name: "X-Amz-Trailer", value: "x-amz-checksum-crc32")])
            var hasher = PayloadHasher(expected.hasherConfiguration)
            decoded.withUnsafeBytes { hasher.update($0) }
            try expected.addTrailers(decoder.trailers)
            try expected.verify(hasher.finalize())
        }
    }

    @Test func boto3TrailerWithWrongCRC32IsBadDigest() throws {
        var decoder = unsignedDecoder()
        let body = utf8Bytes("6\r\nsmall\n\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")
        let decoded = try decodeChunked(body, &decoder)
        var expected = try S3ExpectedDigests(headers: [(name: "x-amz-trailer", value: "x-amz-checksum-crc32")])
        var hasher = PayloadHasher(expected.hasherConfiguration)
        decoded.withUnsafeBytes { hasher.update($0) }
        try expected.addTrailers(decoder.trailers)
        let error = #expect(throws: S3DigestError.self) { try expected.verify(hasher.finalize()) }
        #expect(error?.s3Code == "BadDigest")
    }

    @Test func truncatedBodyIsIncomplete() {
        let body = Self.boto3Body
        for cut in [0, 3, 8, 12, 15, 30, body.count - 1] {
            var decoder = unsignedDecoder()
            let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(Array(body[..<cut]), &decoder) }
            #expect(error?.s3Code == "IncompleteBody", "cut at \(cut)")
            if case .truncated = error?.reason {} else { Issue.record("cut at \(cut): \(String(describing: error))") }
        }
    }

    @Test func oversizeChunkHeaderFails() {
        var decoder = unsignedDecoder()
        let header = [UInt8](repeating: UInt8(ascii: "0"), count: AWSChunkedDecoder.lineBytesMax + 1)
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(header, &decoder, pieces: [100, 3000]) }
        #expect(error?.reason == .lineTooLong(bytesMax: 4096))
        #expect(error?.s3Code == "InvalidRequest")
    }

    @Test func chunkLongerThanTheMaxFails() {
        var decoder = unsignedDecoder(max: 100)
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(utf8Bytes("65\r\n"), &decoder) }
        #expect(error?.reason == .decodedLengthOverMax(bytesMax: 100))
        #expect(error?.s3Code == "EntityTooLarge")

        var huge = unsignedDecoder()
        let overflow = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(utf8Bytes("ffffffffffffffff\r\n"), &huge) }
        #expect(overflow?.reason == .decodedLengthOverMax(bytesMax: 1 << 20))
    }

    @Test func chunksAddingUpOverTheMaxFail() {
        var decoder = unsignedDecoder(max: 5)
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(utf8Bytes("3\r\nabc\r\n3\r\n"), &decoder) }
        #expect(error?.reason == .decodedLengthOverMax(bytesMax: 5))
        #expect(error?.chunkIndex == 1)
    }

    @Test(arguments: ["zz\r\n", "\r\n", "-1\r\n", " 6\r\n", "6 \r\n", "0x6\r\n", "11111111111111111\r\n"])
    func garbageChunkSizeFails(header: String) {
        var decoder = unsignedDecoder()
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(utf8Bytes(header), &decoder) }
        #expect(error?.reason == .invalidChunkSize, "\(header.debugDescription)")
    }

    @Test func chunkExtensionOnUnsignedBodyFails() {
        var decoder = unsignedDecoder()
        let error = #expect(throws: AWSChunkedError.self) {
            _ = try decodeChunked(utf8Bytes("6;chunk-signature=" + String(repeating: "0", count: 64) + "\r\n"), &decoder)
        }
        #expect(error?.reason == .unsupportedChunkExtension)
    }

    @Test func bareLineFeedFails() {
        var decoder = unsignedDecoder()
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(utf8Bytes("6\nsmall\n\r\n"), &decoder) }
        #expect(error?.reason == .bareLineFeed)
    }

    @Test func dataNotFollowedByCRLFFails() {
        var decoder = unsignedDecoder()
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(utf8Bytes("3\r\nabcd\r\n"), &decoder) }
        #expect(error?.reason == .missingChunkTerminator)
        #expect(error?.offset == 6)
    }

    @Test func bytesAfterTheEndFail() {
        var decoder = unsignedDecoder()
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(Self.boto3Body + utf8Bytes("x"), &decoder) }
        #expect(error?.reason == .dataAfterEnd)
    }

    @Test func trailerWithoutAnnouncementFails() {
        var decoder = AWSChunkedDecoder(signing: nil, expectTrailer: false, decodedLengthMax: 100)
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(Self.boto3Body, &decoder) }
        #expect(error?.reason == .unexpectedTrailer)
        #expect(error?.s3Code == "MalformedTrailerError")
    }

    @Test(arguments: ["no-colon", ":value", "bad name:v", "x-amz-checksum-crc32:\u{7f}"])
    func malformedTrailerFails(line: String) {
        var decoder = unsignedDecoder()
        let error = #expect(throws: AWSChunkedError.self) { _ = try decodeChunked(utf8Bytes("0\r\n" + line + "\r\n\r\n"), &decoder) }
        #expect(error?.reason == .malformedTrailer, "\(line.debugDescription)")
    }

    @Test func duplicateTrailerFails() {
        var decoder = unsignedDecoder()
        let error = #expect(throws: AWSChunkedError.self) {
            _ = try decodeChunked(utf8Bytes("0\r\nx-amz-checksum-crc32:AAAAAA==\r\nX-Amz-Checksum-CRC32:AAAAAA==\r\n\r\n"), &decoder)
        }
        #expect(error?.reason == .duplicateTrailer(name: "x-amz-checksum-crc32"))
    }

    @Test func trailerSignatureOnUnsignedBodyFails() {
        var decoder = unsignedDecoder()
        let error = #expect(throws: AWSChunkedError.self) {
            _ = try decodeChunked(utf8Bytes("0\r\nx-amz-trailer-signature:" + String(repeating: "0", count: 64) + "\r\n\r\n"), &decoder)
        }
        #expect(error?.reason == .unexpectedTrailerSignature)
    }

    @Test func anErrorIsSticky() {
        var decoder = unsignedDecoder()
        let first = #expect(throws: AWSChunkedError.self) { try feedChunked(&decoder, utf8Bytes("zz\r\n")[...]) }
        let again = #expect(throws: AWSChunkedError.self) { try feedChunked(&decoder, utf8Bytes("6\r\n")[...]) }
        #expect(first == again)
        let atFinish = #expect(throws: AWSChunkedError.self) { try decoder.finish() }
        #expect(atFinish == first)
    }

    @Test func dataIsHandedOutAsSlicesOfTheInput() throws {
        var decoder = unsignedDecoder()
        let body = utf8Bytes("5\r\nhello\r\n0\r\n\r\n")
        let failure: AWSChunkedError? = body.withUnsafeBytes { raw in
            var runs: [UnsafeRawBufferPointer] = []
            do throws(AWSChunkedError) {
                try decoder.feed(raw) { runs.append($0) }
            } catch {
                return error
            }
            #expect(runs.count == 1)
            #expect(runs.first?.baseAddress == raw.baseAddress! + 3)
            return nil
        }
        #expect(failure == nil)
        try decoder.finish()
    }
}

@Suite struct AWSChunkedDecoderSpeedTests {
    /// Prints MB/s of decoding 64 MiB in 64 KiB chunks fed in 256 KiB pieces, unsigned and
    /// signed (a SHA-256 of every byte and an HMAC per chunk); measures, asserts nothing.
    @Test func speedOf64MiB() throws {
        let payload = [UInt8](repeating: UInt8(ascii: "a"), count: 64 << 20)
        var unsigned: [UInt8] = []
        for start in stride(from: 0, to: payload.count, by: 65536) {
            unsigned += utf8Bytes("10000\r\n") + payload[start..<(start + 65536)] + utf8Bytes("\r\n")
        }
        unsigned += utf8Bytes("0\r\n\r\n")
        let signed = SignedBodyBuilder().body(payload, chunkBytes: 65536)
        // The signed decode's floor: SHA-256 of the same bytes in the same 64 KiB steps.
        let hashStart = ContinuousClock.now
        var sha256 = SHA256()
        payload.withUnsafeBytes { raw in
            for start in stride(from: 0, to: raw.count, by: 65536) {
                sha256.update(bufferPointer: UnsafeRawBufferPointer(rebasing: raw[start..<(start + 65536)]))
            }
        }
        _ = sha256.finalize()
        let hashElapsed = ContinuousClock.now - hashStart
        let hashSeconds = Double(hashElapsed.components.seconds) + Double(hashElapsed.components.attoseconds) / 1e18
        print("decode speed: SHA-256 alone, same bytes \(Int(Double(payload.count) / hashSeconds / 1e6)) MB/s over 64 MiB")
        for (name, body, signing) in [("unsigned", unsigned, nil), ("signed", signed, AWSExample.signing)] {
            var decoder = AWSChunkedDecoder(signing: signing, expectTrailer: false, decodedLengthMax: 64 << 20)
            var decodedBytes = 0
            let start = ContinuousClock.now
            for offset in stride(from: 0, to: body.count, by: 256 << 10) {
                try feedChunked(&decoder, body[offset..<min(body.count, offset + (256 << 10))]) { decodedBytes += $0.count }
            }
            try decoder.finish()
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            #expect(decodedBytes == payload.count)
            print("decode speed: aws-chunked \(name) \(Int(Double(payload.count) / seconds / 1e6)) MB/s over 64 MiB")
        }
    }
}
