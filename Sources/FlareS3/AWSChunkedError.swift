/// Why an aws-chunked body was refused: what was wrong, where in the encoded body it was
/// found, and in which chunk.
public struct AWSChunkedError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The part of the framing the decoder was reading.
    public enum Section: String, Sendable, Equatable {
        case chunkHeader = "chunk header"
        case chunkData = "chunk data"
        case chunkTerminator = "CRLF after chunk data"
        case trailer = "trailer"
    }

    public enum Reason: Sendable, Equatable {
        /// A chunk header or trailer line longer than `AWSChunkedDecoder.lineBytesMax`
        /// without its CRLF.
        case lineTooLong(bytesMax: Int)
        /// A line ended in a bare LF: the framing is CRLF only.
        case bareLineFeed
        /// The chunk size is not 1–16 hex digits.
        case invalidChunkSize
        /// A chunk extension other than `chunk-signature` (any extension, unsigned).
        case unsupportedChunkExtension
        /// A signed body's chunk without `;chunk-signature=<64 hex>`.
        case missingChunkSignature
        /// A chunk's signature is not the one its bytes and the previous signature give.
        case chunkSignatureMismatch
        /// Chunk data not followed by CRLF.
        case missingChunkTerminator
        /// The chunks add up to more than the decoder's `decodedLengthMax`.
        case decodedLengthOverMax(bytesMax: Int)
        /// The chunks add up to more than `X-Amz-Decoded-Content-Length`.
        case decodedLengthOverDeclared(declared: Int)
        /// The last chunk came before `X-Amz-Decoded-Content-Length` bytes had.
        case decodedLengthShortOfDeclared(declared: Int, decoded: Int)
        /// The body ended (`finish()`) before its last chunk and trailer section.
        case truncated(in: Section)
        /// Bytes after the end of the aws-chunked body.
        case dataAfterEnd
        /// A trailer line that is not `name:value` with a token name and printable value.
        case malformedTrailer
        /// A trailer where none was announced (no `x-amz-trailer`).
        case unexpectedTrailer
        /// The same trailer twice: which one would the checksum be?
        case duplicateTrailer(name: String)
        /// More than `AWSChunkedDecoder.trailerCountMax` trailers.
        case tooManyTrailers(countMax: Int)
        /// A signed trailer section without `x-amz-trailer-signature`, or a trailer after it.
        case missingTrailerSignature
        /// `x-amz-trailer-signature` on an unsigned body.
        case unexpectedTrailerSignature
        /// The trailer signature does not match the trailers and the last chunk's signature.
        case trailerSignatureMismatch
    }

    public let reason: Reason
    /// Offset in the encoded (aws-chunked) body where the problem was found.
    public let offset: Int
    /// The chunk being read, from 0.
    public let chunkIndex: Int

    public init(_ reason: Reason, offset: Int, chunkIndex: Int) {
        self.reason = reason
        self.offset = offset
        self.chunkIndex = chunkIndex
    }

    /// The S3 error code the request is answered with.
    public var s3Code: String {
        switch reason {
        case .missingChunkSignature, .chunkSignatureMismatch, .missingTrailerSignature, .trailerSignatureMismatch:
            "SignatureDoesNotMatch"
        case .truncated, .decodedLengthShortOfDeclared: "IncompleteBody"
        case .decodedLengthOverMax: "EntityTooLarge"
        case .malformedTrailer, .unexpectedTrailer, .duplicateTrailer, .tooManyTrailers, .unexpectedTrailerSignature:
            "MalformedTrailerError"
        case .lineTooLong, .bareLineFeed, .invalidChunkSize, .unsupportedChunkExtension, .missingChunkTerminator,
             .decodedLengthOverDeclared, .dataAfterEnd:
            "InvalidRequest"
        }
    }

    /// The HTTP status: 403 for a signature S3 refuses, 400 for everything else.
    public var status: Int { s3Code == "SignatureDoesNotMatch" ? 403 : 400 }

    public var description: String {
        let place = "at byte \(offset) of the aws-chunked body, chunk \(chunkIndex)"
        return switch reason {
        case .lineTooLong(let bytesMax): "a line over \(bytesMax) bytes \(place)"
        case .bareLineFeed: "a line ended in LF without CR \(place)"
        case .invalidChunkSize: "a chunk size that is not 1-16 hex digits \(place)"
        case .unsupportedChunkExtension: "a chunk extension other than chunk-signature \(place)"
        case .missingChunkSignature: "a signed body's chunk without chunk-signature \(place)"
        case .chunkSignatureMismatch: "a chunk signature that does not match the chunk \(place)"
        case .missingChunkTerminator: "chunk data not followed by CRLF \(place)"
        case .decodedLengthOverMax(let bytesMax): "more than \(bytesMax) decoded bytes \(place)"
        case .decodedLengthOverDeclared(let declared): "more than X-Amz-Decoded-Content-Length \(declared) bytes \(place)"
        case .decodedLengthShortOfDeclared(let declared, let decoded):
            "\(decoded) bytes, not X-Amz-Decoded-Content-Length \(declared), \(place)"
        case .truncated(let section): "the body ended inside the \(section.rawValue) \(place)"
        case .dataAfterEnd: "bytes after the end of the body \(place)"
        case .malformedTrailer: "a trailer line that is not name:value \(place)"
        case .unexpectedTrailer: "a trailer no x-amz-trailer announced \(place)"
        case .duplicateTrailer(let name): "trailer \(name) twice \(place)"
        case .tooManyTrailers(let countMax): "more than \(countMax) trailers \(place)"
        case .missingTrailerSignature: "a signed trailer without x-amz-trailer-signature last \(place)"
        case .unexpectedTrailerSignature: "x-amz-trailer-signature on an unsigned body \(place)"
        case .trailerSignatureMismatch: "a trailer signature that does not match the trailers \(place)"
        }
    }
}
