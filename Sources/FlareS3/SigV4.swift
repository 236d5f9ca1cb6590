import Crypto
import FlareCore

/// What a SigV4 verifier must know of the service it verifies for. S3 differs from the generic
/// algorithm in two places: a presigned URL's payload is `UNSIGNED-PAYLOAD`, and header
/// authentication must carry `x-amz-content-sha256`. Other services exist here only so that AWS's
/// generic signing test suite (service `service`) runs against the same code.
struct SigV4Service: Sendable {
    let name: String
    /// The payload hash of a presigned request that does not name one.
    let presignedPayloadHash: String
    /// Whether header authentication without `x-amz-content-sha256` is refused; if not, the
    /// payload is taken to be empty.
    let contentSHA256Required: Bool

    static let s3 = SigV4Service(name: "s3", presignedPayloadHash: SigV4.unsignedPayload, contentSHA256Required: true)
}

/// The parts of a SigV4 credential: `AKID/20130524/us-east-1/s3/aws4_request`.
struct SigV4Credential: Sendable {
    let accessKey: String
    let date: String
    let region: String
    let service: String

    /// `date/region/service/aws4_request`: what the string to sign names.
    var scope: String { "\(date)/\(region)/\(service)/aws4_request" }

    /// nil unless `text` has exactly five `/`-separated non-empty parts ending in `aws4_request`.
    init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[4] == "aws4_request", !parts[0].isEmpty,
              parts[1].count == 8, parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber),
              !parts[2].isEmpty, !parts[3].isEmpty
        else { return nil }
        accessKey = String(parts[0])
        date = String(parts[1])
        region = String(parts[2])
        service = String(parts[3])
    }
}

/// SigV4's building blocks: canonical request, string to sign, signing key and signature, as in
/// AWS's "Create a signed AWS API request" and S3's "Signature Calculations for the
/// Authorization Header".
enum SigV4 {
    static let algorithm = "AWS4-HMAC-SHA256"
    static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// hex(sha256("")).
    static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The canonical request of `head`:
    /// `METHOD\nURI\nQUERY\n(name:value\n)*\nSIGNED;HEADERS\nPAYLOAD-HASH`.
    /// - Parameter excludingSignature: leave `X-Amz-Signature` out of the query (presigned URLs).
    static func canonicalRequest(_ head: S3RequestHead, signedHeaders: [String], payloadHash: String,
                                 excludingSignature: Bool) -> String {
        var text = head.method + "\n"
        text += S3URIEncoding.canonicalPath(head.path) + "\n"
        text += canonicalQuery(head.query, excluding: excludingSignature ? "X-Amz-Signature" : nil) + "\n"
        for name in signedHeaders {
            text += name + ":" + canonicalHeaderValue(head.headerValues(name)) + "\n"
        }
        text += "\n" + signedHeaders.joined(separator: ";") + "\n" + payloadHash
        return text
    }

    /// Every parameter decoded and encoded again the SigV4 way (so `%e1`, `%E1` and a raw byte
    /// all read `%E1`), sorted by encoded name then encoded value, `name=` for an empty value.
    static func canonicalQuery(_ query: Substring, excluding excluded: String?) -> String {
        var pairs: [(name: String, value: String)] = []
        for (name, value) in S3Query.decodedPairs(query) where name != excluded {
            pairs.append((S3URIEncoding.encode(name), S3URIEncoding.encode(value)))
        }
        // Byte order, as AWS sorts: String's < is Unicode order, which for these ASCII-only
        // encoded strings is the same.
        pairs.sort { $0.name != $1.name ? $0.name < $1.name : $0.value < $1.value }
        return pairs.map { $0.name + "=" + $0.value }.joined(separator: "&")
    }

    /// The values of one header joined with `,`, each trimmed and with every inner run of
    /// whitespace collapsed to one space.
    static func canonicalHeaderValue(_ values: [String]) -> String {
        // On bytes: "\r\n" is one Character, so a Character comparison would miss it.
        values.map { value in
            value.utf8.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0d || $0 == 0x0a })
                .map { String(decoding: $0, as: UTF8.self) }
                .joined(separator: " ")
        }.joined(separator: ",")
    }

    /// `AWS4-HMAC-SHA256\nDATE\nSCOPE\nhex(sha256(canonical request))`.
    static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        "\(algorithm)\n\(amzDate)\n\(scope)\n\(sha256Hex(Array(canonicalRequest.utf8)))"
    }

    /// HMAC chain `"AWS4" + secret` → date → region → service → `aws4_request`.
    static func signingKey(secret: String, date: String, region: String, service: String) -> [UInt8] {
        var key = Array(("AWS4" + secret).utf8)
        for part in [date, region, service, "aws4_request"] {
            key = hmac(key: key, Array(part.utf8))
        }
        return key
    }

    /// hex(HMAC-SHA256(signing key, string to sign)).
    static func signature(signingKey: [UInt8], stringToSign: String) -> String {
        Hex.encode(hmac(key: signingKey, Array(stringToSign.utf8)))
    }

    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        Hex.encode(SHA256.hash(data: bytes))
    }

    /// Compares without stopping at the first difference, so the time taken does not tell an
    /// attacker how many leading characters of a forged signature were right.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}
