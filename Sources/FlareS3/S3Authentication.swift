/// How the body of an authenticated request is protected, from `x-amz-content-sha256` (or, for a
/// presigned URL, `UNSIGNED-PAYLOAD`). The caller checks the body accordingly before it commits.
public enum S3PayloadMode: Sendable, Equatable {
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    case unsigned
    /// A hex SHA-256 (lowercased here) the body must hash to, else `XAmzContentSHA256Mismatch`.
    case sha256(hex: String)
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked body, every chunk signed in a chain that
    /// starts at the request's signature.
    case streamingSigned(S3ChunkSigning)
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked body, unsigned, with a trailing checksum.
    case streamingUnsignedTrailer
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks, then a signed trailer.
    case streamingSignedTrailer(S3ChunkSigning)
}

/// What a verifier of aws-chunked chunk signatures needs, taken from the verified request.
///
/// Chunk *i*'s signature is hex(HMAC-SHA256(`signingKey`, S)) with
/// S = `"AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + scope + "\n" + previous + "\n" +
/// hex(sha256("")) + "\n" + hex(sha256(chunk))`, where `previous` is `seedSignature` for the
/// first chunk and the previous chunk's signature after that.
public struct S3ChunkSigning: Sendable, Equatable {
    /// The SigV4 signing key of the request's date, region and service (32 bytes).
    public let signingKey: [UInt8]
    /// The request's `x-amz-date` (`20130524T000000Z`).
    public let amzDate: String
    /// The credential scope, `20130524/us-east-1/s3/aws4_request`.
    public let scope: String
    /// The request's own signature (lowercase hex): the chain's first "previous signature".
    public let seedSignature: String

    /// Chunk signing state from its parts.
    public init(signingKey: [UInt8], amzDate: String, scope: String, seedSignature: String) {
        self.signingKey = signingKey
        self.amzDate = amzDate
        self.scope = scope
        self.seedSignature = seedSignature
    }
}

/// A request whose signature verified: who sent it and how its body is to be checked.
public struct S3Authentication: Sendable {
    /// The access key that signed the request.
    public let accessKey: String
    /// How the body is protected.
    public let payload: S3PayloadMode
    /// True for a presigned URL (SigV4 or SigV2 query parameters), false for an `Authorization`
    /// header.
    public let presigned: Bool

    /// An authentication from its parts.
    public init(accessKey: String, payload: S3PayloadMode, presigned: Bool) {
        self.accessKey = accessKey
        self.payload = payload
        self.presigned = presigned
    }
}
