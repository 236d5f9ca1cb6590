import struct Foundation.Date

extension S3Auth {
    /// A SigV4 presigned URL: `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
    /// `X-Amz-Expires`, `X-Amz-SignedHeaders` and `X-Amz-Signature` in the query.
    static func verifyPresigned(_ head: S3RequestHead, query: [(name: String, value: String)], context: Context) throws(S3Error) -> S3Authentication {
        func parameter(_ name: String) -> String? { S3Query.value(name, in: query) }
        guard parameter("X-Amz-Algorithm") == SigV4.algorithm else {
            throw .authorizationQueryParametersError("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
        }
        guard let credentialText = parameter("X-Amz-Credential"), let amzDate = parameter("X-Amz-Date"),
              let expiresText = parameter("X-Amz-Expires"), let signedHeadersText = parameter("X-Amz-SignedHeaders"),
              let signature = parameter("X-Amz-Signature")
        else {
            throw .authorizationQueryParametersError("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
        }
        guard let credential = SigV4Credential(parsing: credentialText) else {
            throw .authorizationQueryParametersError("X-Amz-Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
        }
        try checkScope(credential, context: context, malformed: S3Error.authorizationQueryParametersError)
        guard let date = S3Time.parseAmzDate(amzDate) else {
            throw .authorizationQueryParametersError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
        }
        guard amzDate.hasPrefix(credential.date) else {
            throw .authorizationQueryParametersError("Invalid credential date. Date is not the same as X-Amz-Date.")
        }
        guard let expires = Int(expiresText), expires >= 1, expires <= presignedExpirySecondsMax else {
            throw .authorizationQueryParametersError("X-Amz-Expires must be a number between 1 and \(presignedExpirySecondsMax) seconds")
        }
        let secret = try context.secret(for: credential.accessKey)
        // A URL dated ahead of the clock is refused beyond the skew, so that a long-lived URL
        // cannot be minted for later; one past its expiry is refused outright.
        guard date.timeIntervalSince(context.now) <= Double(context.clockSkewSeconds) else {
            throw .accessDenied("Request is not valid yet")
        }
        guard context.now.timeIntervalSince(date) <= Double(expires) else { throw .accessDenied("Request has expired") }
        let signedHeaders = signedHeadersText.split(separator: ";").map { String($0) }
        guard signedHeaders.contains("host") else {
            throw .authorizationQueryParametersError("X-Amz-SignedHeaders must include host.")
        }
        try requireSigned(head, signedHeaders: signedHeaders)
        let payloadHash = parameter("X-Amz-Content-Sha256") ?? context.service.presignedPayloadHash

        let canonical = SigV4.canonicalRequest(head, signedHeaders: signedHeaders, payloadHash: payloadHash, excludingSignature: true)
        let toSign = SigV4.stringToSign(amzDate: amzDate, scope: credential.scope, canonicalRequest: canonical)
        let key = SigV4.signingKey(secret: secret, date: credential.date, region: credential.region, service: credential.service)
        let expected = SigV4.signature(signingKey: key, stringToSign: toSign)
        guard SigV4.constantTimeEqual(expected, signature.lowercased()) else { throw .signatureDoesNotMatch() }

        let payload = try payloadMode(payloadHash) {
            S3ChunkSigning(signingKey: key, amzDate: amzDate, scope: credential.scope, seedSignature: expected)
        }
        return S3Authentication(accessKey: credential.accessKey, payload: payload, presigned: true)
    }
}
