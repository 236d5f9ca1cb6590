import struct Foundation.Date

/// Verifies S3 request signatures: SigV4 in the `Authorization` header, SigV4 presigned URLs and
/// SigV2 presigned URLs. Pure: the caller passes the clock and the keys.
public enum S3Auth {
    /// Longest validity of a SigV4 presigned URL S3 accepts: seven days.
    public static let presignedExpirySecondsMax = 604_800

    /// Checks the signature of `head` as it came off the wire.
    ///
    /// - Parameters:
    ///   - credentials: the access keys accepted.
    ///   - now: the server's clock.
    ///   - region: the region the server serves; a scope naming another is refused
    ///     (`AuthorizationHeaderMalformed`). nil accepts any, as a single-region store can.
    ///   - clockSkewSeconds: how far `x-amz-date` may be from `now` (S3: 15 minutes).
    ///   - baseDomain: the virtual-host domain (`s3.example.com`), used by SigV2 only, whose
    ///     signed resource names the bucket even when the path does not.
    /// - Returns: nil for an anonymous request (no `Authorization` header, no signature in the
    ///   query); the caller decides whether anonymous access is allowed.
    /// - Throws: `S3Error` with S3's code: `SignatureDoesNotMatch`, `InvalidAccessKeyId`,
    ///   `RequestTimeTooSkewed`, `AccessDenied` (presigned URL expired or not yet valid; x-amz-*
    ///   headers the signature does not cover; no date), `AuthorizationHeaderMalformed`,
    ///   `AuthorizationQueryParametersError`, `InvalidArgument`, `InvalidRequest`.
    public static func verify(_ head: S3RequestHead, credentials: S3Credentials, now: Date, region: String? = nil,
                              clockSkewSeconds: Int = 900, baseDomain: String? = nil) throws(S3Error) -> S3Authentication? {
        try verify(head, credentials: credentials, now: now, region: region, clockSkewSeconds: clockSkewSeconds,
                   baseDomain: baseDomain, service: .s3)
    }

    static func verify(_ head: S3RequestHead, credentials: S3Credentials, now: Date, region: String?,
                       clockSkewSeconds: Int, baseDomain: String?, service: SigV4Service) throws(S3Error) -> S3Authentication? {
        let query = S3Query.decodedPairs(head.query)
        let presignedV4 = query.contains { $0.name == "X-Amz-Signature" || $0.name == "X-Amz-Algorithm" || $0.name == "X-Amz-Credential" }
        let presignedV2 = query.contains { $0.name == "Signature" || $0.name == "AWSAccessKeyId" }
        let context = Context(credentials: credentials, now: now, region: region, clockSkewSeconds: clockSkewSeconds, service: service)
        if let authorization = head.header("authorization") {
            guard !presignedV4, !presignedV2 else {
                throw .invalidArgument("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
            }
            return try verifyHeader(head, authorization: authorization, context: context)
        }
        if presignedV4 { return try verifyPresigned(head, query: query, context: context) }
        if presignedV2 { return try verifyPresignedV2(head, query: query, context: context, baseDomain: baseDomain) }
        return nil
    }

    /// The parameters every scheme's check needs.
    struct Context {
        let credentials: S3Credentials
        let now: Date
        let region: String?
        let clockSkewSeconds: Int
        let service: SigV4Service

        func secret(for accessKey: String) throws(S3Error) -> String {
            guard let secret = credentials.secret(for: accessKey) else { throw .invalidAccessKeyId() }
            return secret
        }
    }

    /// The payload mode `x-amz-content-sha256` (or a presigned URL's payload hash) names.
    static func payloadMode(_ hash: String, chunkSigning: () -> S3ChunkSigning) throws(S3Error) -> S3PayloadMode {
        switch hash {
        case SigV4.unsignedPayload: return .unsigned
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD": return .streamingSigned(chunkSigning())
        case "STREAMING-UNSIGNED-PAYLOAD-TRAILER": return .streamingUnsignedTrailer
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER": return .streamingSignedTrailer(chunkSigning())
        default:
            guard hash.utf8.count == 64, hash.utf8.allSatisfy({ S3URIEncoding.hexValue($0) != nil }) else {
                throw .invalidArgument("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
            }
            return .sha256(hex: hash.lowercased())
        }
    }

    /// Refuses a request carrying `x-amz-*` headers the signature does not cover, as S3 does: an
    /// unsigned `x-amz-copy-source` or `x-amz-meta-*` added on the way would otherwise ride on
    /// someone else's signature (a presigned PUT turned into a copy of any object, say).
    static func requireSigned(_ head: S3RequestHead, signedHeaders: [String]) throws(S3Error) {
        let signed = Set(signedHeaders)
        var unsigned: [String] = []
        for (name, _) in head.headers {
            let lower = name.lowercased()
            if lower.hasPrefix("x-amz-"), !signed.contains(lower), !unsigned.contains(lower) { unsigned.append(lower) }
        }
        guard unsigned.isEmpty else {
            throw .accessDenied("There were headers present in the request which were not signed: \(unsigned.joined(separator: ", "))")
        }
    }
}
