import Crypto
import FlareCore

/// Decodes an aws-chunked request body (`Content-Encoding: aws-chunked`), the framing inside
/// the HTTP body that S3 clients use for streaming uploads:
///
/// - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` (`signing` given, no trailer):
///   `<hex>;chunk-signature=<sig>\r\n<data>\r\n` … `0;chunk-signature=<sig>\r\n\r\n`
/// - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` (`signing`, `expectTrailer`): the same, with
///   `name:value\r\n` trailer lines and `x-amz-trailer-signature:<sig>\r\n` before the final
///   `\r\n`
/// - `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (no `signing`, `expectTrailer`):
///   `<hex>\r\n<data>\r\n` … `0\r\n`, trailer lines, `\r\n`
///
/// A pure state machine: bytes in, decoded bytes out, no I/O and no allocation per chunk. The
/// HTTP layer has already removed the outer `Transfer-Encoding: chunked`; pieces may be split
/// anywhere, inside a chunk header or between CR and LF. Data bytes are handed to the
/// consumer as slices of the input, never copied; only header and trailer lines are buffered,
/// at most `lineBytesMax` each.
///
/// **A signature is checked at the end of its chunk, after the chunk's bytes were handed
/// out.** Holding a chunk (64 KiB or more, as large as the client likes) until it verifies would
/// cost a bounded-but-large buffer per upload; instead the chunk's SHA-256 is computed as it
/// passes and a bad signature throws at the chunk's end. The consumer must therefore treat
/// everything it was given as unverified until `finish()` returns: the PUT path commits
/// nothing (no manifest) before the body's end, and on a throw discards the whole upload.
public struct AWSChunkedDecoder: @unchecked Sendable {
    // @unchecked: swift-crypto's SHA256 and SymmetricKey do not declare Sendable but are
    // copy-on-write values; nothing here is shared between copies.

    /// The longest chunk header or trailer line, without its CRLF. A signed header is 85 bytes
    /// (`ffffffff;chunk-signature=` + 64 hex); the margin allows long checksum trailers.
    public static let lineBytesMax = 4096
    /// The most trailers one body may carry (clients send one checksum).
    public static let trailerCountMax = 16

    private enum State {
        case chunkHeader
        case chunkData(remaining: Int)
        case chunkDataCR
        case chunkDataLF
        case trailerLine
        case finished
    }

    private let signing: S3ChunkSigning?
    private let signingKey: SymmetricKey?
    private let expectTrailer: Bool
    private let decodedLengthMax: Int
    private let expectedDecodedLength: Int?

    private var state = State.chunkHeader
    /// The header or trailer line being read, without its LF; bounded by `lineBytesMax + 1`.
    private var line: [UInt8] = []
    /// Encoded bytes consumed: the offset errors report.
    private var offset = 0
    private var chunkIndex = 0
    public private(set) var decodedLength = 0
    /// The signature the next chunk's chains from: the seed, then each verified chunk's.
    private var previousSignature: String
    /// The current chunk's claimed signature and its data's running hash (signed bodies).
    private var claimedSignature = ""
    private var chunkHash = SHA256()
    /// `x-amz-trailer-signature` was read and verified: the trailer section must end next.
    private var trailerSignatureVerified = false
    private var failure: AWSChunkedError?

    /// The trailers, names lowercased and values trimmed, in the order sent;
    /// `x-amz-trailer-signature` is checked, not listed. Complete once `isFinished`.
    public private(set) var trailers: [(name: String, value: String)] = []

    /// True once the last chunk and the trailer section (or the final CRLF) have been read.
    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    /// - Parameters:
    ///   - signing: for the `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` framings, whose every chunk
    ///     (and trailer) signature is verified; `nil` for `STREAMING-UNSIGNED-PAYLOAD-TRAILER`,
    ///     where a chunk extension is refused.
    ///   - expectTrailer: the request announced trailers (`x-amz-trailer`); without it, a
    ///     trailer line is refused.
    ///   - decodedLengthMax: the most decoded bytes accepted (the object size limit).
    ///   - expectedDecodedLength: `X-Amz-Decoded-Content-Length`, when sent: the chunks must add
    ///     up to exactly this.
    public init(signing: S3ChunkSigning?, expectTrailer: Bool, decodedLengthMax: Int,
                expectedDecodedLength: Int? = nil) {
        precondition(decodedLengthMax >= 0, "decodedLengthMax \(decodedLengthMax)")
        self.signing = signing
        self.signingKey = signing.map { SymmetricKey(data: $0.signingKey) }
        self.expectTrailer = expectTrailer
        self.decodedLengthMax = decodedLengthMax
        self.expectedDecodedLength = expectedDecodedLength
        self.previousSignature = signing?.seedSignature ?? ""
        line.reserveCapacity(128)
    }

    /// Decodes the next piece of the body, calling `out` with each run of payload bytes (slices
    /// of `bytes`, valid only during the call). `out` does not throw: the decoder's position
    /// must stay that of the bytes consumed, so a consumer that fails records why and stops
    /// feeding. Decoded bytes never outnumber input bytes, so a consumer that feeds no more
    /// than its free space always has room.
    ///
    /// After a throw, every later `feed` and `finish` throws the same error.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into out: (UnsafeRawBufferPointer) -> Void) throws(AWSChunkedError) {
        if let failure { throw failure }
        do {
            var index = 0
            while index < bytes.count {
                index = try step(bytes, from: index, out)
            }
        } catch {
            failure = error
            throw error
        }
    }

    /// Declares the body complete; throws (`IncompleteBody`) if it ended before its last chunk
    /// and trailer section.
    public mutating func finish() throws(AWSChunkedError) {
        if let failure { throw failure }
        let section: AWSChunkedError.Section
        switch state {
        case .finished: return
        case .chunkHeader: section = .chunkHeader
        case .chunkData: section = .chunkData
        case .chunkDataCR, .chunkDataLF: section = .chunkTerminator
        case .trailerLine: section = .trailer
        }
        let error = fail(.truncated(in: section))
        failure = error
        throw error
    }

    /// Consumes bytes from `index` in the current state; returns the index it stopped at.
    private mutating func step(_ bytes: UnsafeRawBufferPointer, from index: Int,
                               _ out: (UnsafeRawBufferPointer) -> Void) throws(AWSChunkedError) -> Int {
        switch state {
        case .chunkHeader, .trailerLine:
            guard let end = try readLine(bytes, from: index) else { return bytes.count }
            if case .chunkHeader = state { try chunkHeaderDone() } else { try trailerLineDone() }
            line.removeAll(keepingCapacity: true)
            return end
        case .chunkData(let remaining):
            let count = min(remaining, bytes.count - index)
            let run = UnsafeRawBufferPointer(rebasing: bytes[index..<(index + count)])
            if signing != nil { chunkHash.update(bufferPointer: run) }
            out(run)
            offset += count
            if remaining == count {
                try verifyChunkSignature()
                state = .chunkDataCR
            } else {
                state = .chunkData(remaining: remaining - count)
            }
            return index + count
        case .chunkDataCR, .chunkDataLF:
            let expected: UInt8 = if case .chunkDataCR = state { 0x0d } else { 0x0a }
            guard bytes[index] == expected else { throw fail(.missingChunkTerminator) }
            offset += 1
            if expected == 0x0d {
                state = .chunkDataLF
            } else {
                chunkIndex += 1
                state = .chunkHeader
            }
            return index + 1
        case .finished:
            throw fail(.dataAfterEnd)
        }
    }

    /// Appends to `line` up to and including an LF; returns the index after the LF, or `nil`
    /// when the input ran out first. The line is left without its CRLF.
    private mutating func readLine(_ bytes: UnsafeRawBufferPointer, from index: Int) throws(AWSChunkedError) -> Int? {
        var end = index
        while end < bytes.count, bytes[end] != 0x0a { end += 1 }
        // +1: the line's CR, which may arrive in one piece and its LF in the next.
        let room = Self.lineBytesMax + 1 - line.count
        guard end - index <= room else {
            offset += room
            throw fail(.lineTooLong(bytesMax: Self.lineBytesMax))
        }
        line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<end]))
        offset += end - index
        if line.count == Self.lineBytesMax + 1, line.last != 0x0d { throw fail(.lineTooLong(bytesMax: Self.lineBytesMax)) }
        guard end < bytes.count else { return nil }
        guard line.last == 0x0d else { throw fail(.bareLineFeed) }
        line.removeLast()
        offset += 1
        return end + 1
    }

    private func fail(_ reason: AWSChunkedError.Reason) -> AWSChunkedError {
        AWSChunkedError(reason, offset: offset, chunkIndex: chunkIndex)
    }
}

extension AWSChunkedDecoder {
    /// `<hex-size>` or `<hex-size>;chunk-signature=<64 hex>`, in `line`.
    private mutating func chunkHeaderDone() throws(AWSChunkedError) {
        let semicolon = line.firstIndex(of: UInt8(ascii: ";")) ?? line.endIndex
        let size = try parseChunkSize(line[..<semicolon])
        let extensionBytes = line[semicolon...].dropFirst()
        if signing != nil {
            guard semicolon < line.endIndex else { throw fail(.missingChunkSignature) }
            claimedSignature = try parseChunkSignature(extensionBytes)
        } else if semicolon < line.endIndex {
            throw fail(.unsupportedChunkExtension)
        }

        // Overflow-free: size and decodedLength are each at most decodedLengthMax here.
        guard size <= decodedLengthMax - decodedLength else { throw fail(.decodedLengthOverMax(bytesMax: decodedLengthMax)) }
        if let declared = expectedDecodedLength, size > declared - decodedLength {
            throw fail(.decodedLengthOverDeclared(declared: declared))
        }
        decodedLength += size

        if signing != nil { chunkHash = SHA256() }
        guard size == 0 else {
            state = .chunkData(remaining: size)
            return
        }
        try verifyChunkSignature()
        if let declared = expectedDecodedLength, decodedLength != declared {
            throw fail(.decodedLengthShortOfDeclared(declared: declared, decoded: decodedLength))
        }
        state = .trailerLine
    }

    /// 1–16 hex digits (either case). Sixteen allows leading zeros; the value is bounded by
    /// `decodedLengthMax` afterwards, overflow is caught here.
    private func parseChunkSize(_ digits: ArraySlice<UInt8>) throws(AWSChunkedError) -> Int {
        guard (1...16).contains(digits.count) else { throw fail(.invalidChunkSize) }
        var value = 0
        for byte in digits {
            guard let digit = Hex.value(byte) else { throw fail(.invalidChunkSize) }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 16)
            guard !overflow else { throw fail(.decodedLengthOverMax(bytesMax: decodedLengthMax)) }
            value = shifted | Int(digit)
        }
        return value
    }

    /// `chunk-signature=<64 lowercase hex>` and nothing else: SigV4 hex is lowercase, and a
    /// second extension is not something S3 clients send.
    private func parseChunkSignature(_ bytes: ArraySlice<UInt8>) throws(AWSChunkedError) -> String {
        let prefix = Array("chunk-signature=".utf8)
        guard bytes.starts(with: prefix) else {
            throw fail(bytes.contains(UInt8(ascii: "=")) ? .unsupportedChunkExtension : .missingChunkSignature)
        }
        let signature = bytes.dropFirst(prefix.count)
        guard signature.count == 64, signature.allSatisfy(Self.isLowerHex) else {
            throw fail(signature.contains(UInt8(ascii: ";")) ? .unsupportedChunkExtension : .chunkSignatureMismatch)
        }
        return String(decoding: signature, as: UTF8.self)
    }

    /// Checks the chunk just completed against its claimed signature and chains from it.
    private mutating func verifyChunkSignature() throws(AWSChunkedError) {
        guard let signing, let signingKey else { return }
        let stringToSign = "AWS4-HMAC-SHA256-PAYLOAD\n" + signing.amzDate + "\n" + signing.scope + "\n"
            + previousSignature + "\n" + Self.emptySHA256Hex + "\n" + S3ChecksumEncoding.hex(chunkHash.finalize())
        let expected = Self.signature(stringToSign, signingKey)
        guard SigV4.constantTimeEqual(expected, claimedSignature) else { throw fail(.chunkSignatureMismatch) }
        previousSignature = expected
    }

    static let emptySHA256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func signature(_ stringToSign: String, _ key: SymmetricKey) -> String {
        S3ChecksumEncoding.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    static func isLowerHex(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }
}

extension AWSChunkedDecoder {
    /// One line of the trailer section, in `line`; the empty line ends it.
    private mutating func trailerLineDone() throws(AWSChunkedError) {
        if line.isEmpty {
            if signing != nil, expectTrailer, !trailerSignatureVerified { throw fail(.missingTrailerSignature) }
            state = .finished
            return
        }
        guard expectTrailer else { throw fail(.unexpectedTrailer) }
        // The signature is the last trailer: a line after it is not covered by it.
        guard !trailerSignatureVerified else { throw fail(.missingTrailerSignature) }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
              line[..<colon].allSatisfy(Self.isTokenByte),
              line[(colon + 1)...].allSatisfy(Self.isValueByte)
        else { throw fail(.malformedTrailer) }
        let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
        let value = S3ChecksumHeader.trimmed(String(decoding: line[(colon + 1)...], as: UTF8.self))

        if name == "x-amz-trailer-signature" {
            guard let signing, let signingKey else { throw fail(.unexpectedTrailerSignature) }
            try verifyTrailerSignature(value, signing, signingKey)
            return
        }
        guard !trailers.contains(where: { $0.name == name }) else { throw fail(.duplicateTrailer(name: name)) }
        guard trailers.count < Self.trailerCountMax else { throw fail(.tooManyTrailers(countMax: Self.trailerCountMax)) }
        trailers.append((name: name, value: value))
    }

    /// The trailer signature, as aws-c-auth computes it (signable_trailer.c, aws_signing.c):
    /// the trailers canonicalised like signed headers — lowercase names, trimmed values, sorted
    /// by name, each `name:value\n` — hashed, and signed chained from the last chunk's
    /// signature: "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope "\n" previous "\n" hex(sha256).
    private mutating func verifyTrailerSignature(_ claimed: String, _ signing: S3ChunkSigning,
                                                 _ key: SymmetricKey) throws(AWSChunkedError) {
        let canonical = trailers.sorted { $0.name < $1.name }.map { $0.name + ":" + $0.value + "\n" }.joined()
        let stringToSign = "AWS4-HMAC-SHA256-TRAILER\n" + signing.amzDate + "\n" + signing.scope + "\n"
            + previousSignature + "\n" + S3ChecksumEncoding.hex(SHA256.hash(data: Array(canonical.utf8)))
        guard SigV4.constantTimeEqual(Self.signature(stringToSign, key), claimed) else {
            throw fail(.trailerSignatureMismatch)
        }
        trailerSignatureVerified = true
    }

    /// RFC 9110 token characters: a trailer name.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// Visible ASCII, space and tab: a trailer value (base64 and hex need no more).
    static func isValueByte(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte < 0x7f)
    }
}
