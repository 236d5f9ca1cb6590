import Crypto
import struct Foundation.Data
import struct Foundation.Date

extension S3Auth {
    /// The query parameters SigV2 signs as part of the resource ("sub-resources"); any other
    /// parameter is left out of the string to sign.
    static let sigV2SubResources: Set<String> = [
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy",
        "requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires", "restore", "tagging", "torrent",
        "uploadId", "uploads", "versionId", "versioning", "versions", "website",
    ]

    /// A SigV2 presigned URL (`AWSAccessKeyId`, `Expires`, `Signature`): what `aws s3 presign`
    /// makes unless told to use s3v4. HMAC-SHA1 over
    /// `METHOD\nContent-MD5\nContent-Type\nExpires\n` + x-amz headers + resource.
    static func verifyPresignedV2(_ head: S3RequestHead, query: [(name: String, value: String)], context: Context,
                                  baseDomain: String?) throws(S3Error) -> S3Authentication {
        guard let accessKey = S3Query.value("AWSAccessKeyId", in: query), let expiresText = S3Query.value("Expires", in: query),
              let signature = S3Query.value("Signature", in: query)
        else {
            throw .accessDenied("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
        }
        guard let expires = Int64(expiresText) else { throw .accessDenied("Invalid date (should be seconds since epoch): \(expiresText)") }
        let secret = try context.secret(for: accessKey)
        guard context.now.timeIntervalSince1970 <= Double(expires) else { throw .accessDenied("Request has expired") }

        let toSign = sigV2StringToSign(head, expires: expiresText, resource: sigV2Resource(head, query: query, baseDomain: baseDomain))
        let expected = Data(HMAC<Insecure.SHA1>.authenticationCode(for: Array(toSign.utf8), using: SymmetricKey(data: Array(secret.utf8))))
            .base64EncodedString()
        guard SigV4.constantTimeEqual(expected, signature) else { throw .signatureDoesNotMatch() }
        return S3Authentication(accessKey: accessKey, payload: .unsigned, presigned: true)
    }

    static func sigV2StringToSign(_ head: S3RequestHead, expires: String, resource: String) -> String {
        var text = head.method + "\n"
        text += (head.header("content-md5") ?? "") + "\n"
        text += (head.header("content-type") ?? "") + "\n"
        text += expires + "\n"
        var amzNames: [String] = []
        for (name, _) in head.headers {
            let lower = name.lowercased()
            if lower.hasPrefix("x-amz-"), !amzNames.contains(lower) { amzNames.append(lower) }
        }
        for name in amzNames.sorted() {
            text += name + ":" + head.headerValues(name).map(\.trimmingSpaces).joined(separator: ",") + "\n"
        }
        return text + resource
    }

    /// `/bucket/key` as sent, the bucket taken from the Host for a virtual-host request, then the
    /// sub-resources sorted by name.
    static func sigV2Resource(_ head: S3RequestHead, query: [(name: String, value: String)], baseDomain: String?) -> String {
        var resource = ""
        if let host = head.header("host"), let bucket = S3Address.virtualHostBucket(host: host, baseDomain: baseDomain) {
            resource = "/" + bucket
        }
        resource += head.path.isEmpty ? "/" : String(head.path)
        let subResources = query.filter { sigV2SubResources.contains($0.name) }.sorted { $0.name < $1.name }
        if !subResources.isEmpty {
            resource += "?" + subResources.map { $0.value.isEmpty ? $0.name : $0.name + "=" + $0.value }.joined(separator: "&")
        }
        return resource
    }
}
