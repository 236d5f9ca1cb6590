/// What verifying a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body needs from the request's
/// SigV4 `Authorization` header: each chunk's signature chains from the one before it,
/// starting at the header's own signature (the seed).
public struct S3ChunkSigning: Sendable, Equatable {
    /// The SigV4 signing key, HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
    /// "aws4_request"): 32 bytes.
    public let signingKey: [UInt8]
    /// The request's `x-amz-date`, `YYYYMMDD'T'HHMMSS'Z'`, as sent.
    public let amzDate: String
    /// The credential scope, `<date>/<region>/<service>/aws4_request`.
    public let scope: String
    /// The `Signature=` of the `Authorization` header, 64 lowercase hex digits: the
    /// "previous signature" of the first chunk.
    public let seedSignature: String

    public init(signingKey: [UInt8], amzDate: String, scope: String, seedSignature: String) {
        self.signingKey = signingKey
        self.amzDate = amzDate
        self.scope = scope
        self.seedSignature = seedSignature
    }
}
