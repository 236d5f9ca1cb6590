import struct Foundation.Date

extension S3Auth {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    static func verifyHeader(_ head: S3RequestHead, authorization: String, context: Context) throws(S3Error) -> S3Authentication {
        guard authorization.hasPrefix(SigV4.algorithm + " ") else {
            if authorization.hasPrefix("AWS ") {
                throw .invalidArgument("SigV2 Authorization headers are not supported; sign requests with SigV4 (AWS4-HMAC-SHA256)")
            }
            throw .invalidArgument("Unsupported Authorization Type")
        }
        let fields = try authorizationFields(authorization.dropFirst(SigV4.algorithm.count + 1))
        guard let credential = SigV4Credential(parsing: fields.credential) else {
            throw .authorizationHeaderMalformed("The authorization header is malformed; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
        }
        try checkScope(credential, context: context, malformed: S3Error.authorizationHeaderMalformed)
        guard let amzDate = head.header("x-amz-date"), let date = S3Time.parseAmzDate(amzDate) else {
            throw .accessDenied("AWS authentication requires a valid Date or x-amz-date header")
        }
        guard amzDate.hasPrefix(credential.date) else {
            throw .authorizationHeaderMalformed("The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.")
        }
        let secret = try context.secret(for: credential.accessKey)
        guard abs(date.timeIntervalSince(context.now)) <= Double(context.clockSkewSeconds) else {
            throw .requestTimeTooSkewed()
        }
        let signedHeaders = fields.signedHeaders.split(separator: ";").map { String($0) }
        guard signedHeaders.contains("host") else {
            throw .authorizationHeaderMalformed("The authorization header is malformed; SignedHeaders must include host.")
        }
        try requireSigned(head, signedHeaders: signedHeaders)
        let payloadHash: String
        if let value = head.header("x-amz-content-sha256") {
            payloadHash = value
        } else if context.service.contentSHA256Required {
            throw .invalidRequest("Missing required header for this request: x-amz-content-sha256")
        } else {
            payloadHash = SigV4.emptySHA256
        }

        let canonical = SigV4.canonicalRequest(head, signedHeaders: signedHeaders, payloadHash: payloadHash, excludingSignature: false)
        let toSign = SigV4.stringToSign(amzDate: amzDate, scope: credential.scope, canonicalRequest: canonical)
        let key = SigV4.signingKey(secret: secret, date: credential.date, region: credential.region, service: credential.service)
        let expected = SigV4.signature(signingKey: key, stringToSign: toSign)
        guard SigV4.constantTimeEqual(expected, fields.signature.lowercased()) else { throw .signatureDoesNotMatch() }

        let payload = try payloadMode(payloadHash) {
            S3ChunkSigning(signingKey: key, amzDate: amzDate, scope: credential.scope, seedSignature: expected)
        }
        return S3Authentication(accessKey: credential.accessKey, payload: payload, presigned: false)
    }

    /// The three `name=value` fields after the algorithm, comma-separated with or without spaces
    /// (s3cmd writes none), in any order.
    static func authorizationFields(_ text: Substring) throws(S3Error) -> (credential: String, signedHeaders: String, signature: String) {
        var credential: String?, signedHeaders: String?, signature: String?
        for field in text.split(separator: ",") {
            let trimmed = field.drop(while: { $0 == " " })
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw .authorizationHeaderMalformed("The authorization header is malformed; '\(trimmed)' is not name=value.")
            }
            let value = String(trimmed[trimmed.index(after: equals)...]).trimmingSpaces
            switch trimmed[..<equals] {
            case "Credential": credential = value
            case "SignedHeaders": signedHeaders = value
            case "Signature": signature = value
            default: continue  // S3 ignores fields it does not know
            }
        }
        guard let credential, let signedHeaders, let signature, !signature.isEmpty else {
            throw .authorizationHeaderMalformed("The authorization header is malformed; it must have Credential, SignedHeaders and Signature.")
        }
        return (credential, signedHeaders, signature)
    }

    /// The scope must name this service, and this region when the server has one.
    static func checkScope(_ credential: SigV4Credential, context: Context, malformed: (String) -> S3Error) throws(S3Error) {
        guard credential.service == context.service.name else {
            throw malformed("The authorization is malformed; incorrect service \"\(credential.service)\". This endpoint belongs to \"\(context.service.name)\".")
        }
        if let region = context.region, credential.region != region {
            throw malformed("The authorization is malformed; the region '\(credential.region)' is wrong; expecting '\(region)'")
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
