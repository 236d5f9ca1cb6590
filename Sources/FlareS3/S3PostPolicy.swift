import Crypto
import Foundation

/// A browser-based upload's authorization (S3's POST Object, "Browser-Based Uploads Using
/// POST"): the form carries a base64 JSON policy — an expiry and conditions on the form's
/// fields — and a signature of that base64 text: SigV4 (`x-amz-algorithm`, `x-amz-credential`,
/// `x-amz-date`, `x-amz-signature`) or SigV2 (`AWSAccessKeyId`, `signature`: what boto3's
/// `generate_presigned_post` makes unless told to use s3v4).
public struct S3PostPolicy: Sendable, Equatable {
    /// One condition of the policy.
    public enum Condition: Sendable, Equatable {
        /// The field (lower-case name, no `$`) must equal the value.
        case equals(String, String)
        /// The field must start with the prefix (any value for an empty one).
        case startsWith(String, String)
        /// The file's size must lie in the range.
        case contentLengthRange(ClosedRange<Int>)
    }

    public let expiration: Date
    public let conditions: [Condition]
    /// The access key that signed the policy.
    public let accessKey: String

    /// The file sizes the policy admits, when it limits them.
    public var lengthRange: ClosedRange<Int>? {
        for case .contentLengthRange(let range) in conditions { return range }
        return nil
    }

    /// Fields that need no condition (AWS's list): the signature, the policy, the file, and
    /// anything named `x-ignore-*`; with SigV2 the access key too.
    static func needsCondition(_ field: String) -> Bool {
        !["x-amz-signature", "signature", "awsaccesskeyid", "policy", "file"].contains(field) && !field.hasPrefix("x-ignore-")
    }

    /// Checks a POST to `bucket` whose form `fields` (names lower-cased, the first of each
    /// name) came before the file: a SigV4 or SigV2 signature by one of `credentials`' keys
    /// over the policy, the policy not expired at `now`, each condition met, and every field named by
    /// a condition. The content-length range is for the caller to apply as the file arrives.
    /// - Throws: S3's errors: AccessDenied (expired, a condition that fails, a field no
    ///   condition names), SignatureDoesNotMatch, InvalidAccessKeyId, InvalidPolicyDocument,
    ///   InvalidArgument (a field missing).
    public static func verify(fields: [String: String], bucket: String, credentials: S3Credentials, now: Date,
                              region: String? = nil) throws(S3Error) -> S3PostPolicy {
        guard let policyText = fields["policy"] else {
            throw .accessDenied("a browser-based upload needs a policy field (and its signature): this server has no public-write buckets")
        }
        guard fields["key"] != nil else {
            throw .invalidArgument("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.")
        }
        let accessKey = try fields["x-amz-algorithm"] != nil || fields["awsaccesskeyid"] == nil
            ? verifySigV4(fields, policyText, credentials: credentials, region: region)
            : verifySigV2(fields, policyText, credentials: credentials)
        let policy = try parse(policyText, accessKey: accessKey)
        guard now < policy.expiration else { throw .accessDenied("Invalid according to Policy: Policy expired.") }
        var values = fields
        values["bucket"] = bucket
        var named: Set<String> = []
        for condition in policy.conditions {
            switch condition {
            case .equals(let field, let value):
                named.insert(field)
                guard values[field] == value else {
                    throw .accessDenied("Invalid according to Policy: Policy Condition failed: [\"eq\", \"$\(field)\", \"\(value)\"]")
                }
            case .startsWith(let field, let prefix):
                named.insert(field)
                guard let given = values[field], given.hasPrefix(prefix) else {
                    throw .accessDenied("Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$\(field)\", \"\(prefix)\"]")
                }
            case .contentLengthRange:
                break
            }
        }
        let extra = fields.keys.filter { needsCondition($0) && !named.contains($0) }.sorted()
        guard extra.isEmpty else {
            throw .accessDenied("Invalid according to Policy: Extra input fields: \(extra.joined(separator: ", "))")
        }
        return policy
    }

    /// The access key whose SigV4 signature of the policy the fields carry.
    static func verifySigV4(_ fields: [String: String], _ policyText: String, credentials: S3Credentials,
                            region: String?) throws(S3Error) -> String {
        for required in ["x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"] where fields[required] == nil {
            throw .invalidArgument("Bucket POST must contain a field named '\(required)'.  If it is specified, please check the order of the fields.")
        }
        guard fields["x-amz-algorithm"] == SigV4.algorithm else { throw .invalidArgument("x-amz-algorithm only supports \"AWS4-HMAC-SHA256\"") }
        guard let credential = SigV4Credential(parsing: fields["x-amz-credential"]!), credential.service == "s3" else {
            throw .invalidArgument("x-amz-credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/s3/aws4_request\".")
        }
        if let region, credential.region != region {
            throw .invalidArgument("the region '\(credential.region)' of x-amz-credential is wrong; expecting '\(region)'")
        }
        guard let secret = credentials.secret(for: credential.accessKey) else { throw .invalidAccessKeyId() }
        let key = SigV4.signingKey(secret: secret, date: credential.date, region: credential.region, service: credential.service)
        let expected = SigV4.signature(signingKey: key, stringToSign: policyText)
        guard SigV4.constantTimeEqual(expected, fields["x-amz-signature"]!.lowercased()) else { throw .signatureDoesNotMatch() }
        return credential.accessKey
    }

    /// The access key whose SigV2 signature (base64 HMAC-SHA1 of the policy) the fields carry.
    static func verifySigV2(_ fields: [String: String], _ policyText: String, credentials: S3Credentials) throws(S3Error) -> String {
        guard let accessKey = fields["awsaccesskeyid"], let signature = fields["signature"] else {
            throw .invalidArgument("Bucket POST must contain a field named 'signature'.  If it is specified, please check the order of the fields.")
        }
        guard let secret = credentials.secret(for: accessKey) else { throw .invalidAccessKeyId() }
        let expected = Data(HMAC<Insecure.SHA1>.authenticationCode(for: Array(policyText.utf8), using: SymmetricKey(data: Array(secret.utf8))))
            .base64EncodedString()
        guard SigV4.constantTimeEqual(expected, signature) else { throw .signatureDoesNotMatch() }
        return accessKey
    }

    /// Decodes the base64 JSON policy document.
    static func parse(_ base64: String, accessKey: String) throws(S3Error) -> S3PostPolicy {
        let invalid = { (why: String) in S3Error(status: 400, code: "InvalidPolicyDocument", message: "Invalid Policy: \(why)") }
        guard let data = Data(base64Encoded: base64),
              let document = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw invalid("the policy is not base64-encoded JSON.")
        }
        guard let expirationText = document["expiration"] as? String else { throw invalid("Policy missing expiration.") }
        guard let expiration = parseExpiration(expirationText) else { throw invalid("Invalid 'expiration' value: '\(expirationText)'") }
        guard let list = document["conditions"] as? [Any] else { throw invalid("Policy missing conditions.") }
        var conditions: [Condition] = []
        for item in list {
            if let exact = item as? [String: Any] {
                guard exact.count == 1, let (name, value) = exact.first, let text = value as? String else {
                    throw invalid("a condition object holds one field and its string value.")
                }
                conditions.append(.equals(name.lowercased(), text))
            } else if let array = item as? [Any], let operation = (array.first as? String)?.lowercased() {
                switch operation {
                case "eq", "starts-with":
                    guard array.count == 3, let field = array[1] as? String, field.hasPrefix("$"), let value = array[2] as? String else {
                        throw invalid("[\"\(operation)\", \"$field\", \"value\"] expected.")
                    }
                    let name = String(field.dropFirst()).lowercased()
                    conditions.append(operation == "eq" ? .equals(name, value) : .startsWith(name, value))
                case "content-length-range":
                    guard array.count == 3, let low = integer(array[1]), let high = integer(array[2]), low >= 0, low <= high else {
                        throw invalid("[\"content-length-range\", min, max] with 0 ≤ min ≤ max expected.")
                    }
                    conditions.append(.contentLengthRange(low...high))
                default:
                    throw invalid("Unknown condition operation '\(operation)'.")
                }
            } else {
                throw invalid("a condition is an object or an array.")
            }
        }
        return S3PostPolicy(expiration: expiration, conditions: conditions, accessKey: accessKey)
    }

    private static func integer(_ value: Any) -> Int? {
        // Foundation on Linux hands JSON numbers over as Int or Double (an NSNumber 0 also
        // casts to Bool there, so that is not asked).
        if let number = value as? Int { return number }
        if let number = value as? Double, number == number.rounded(), abs(number) < 1e18 { return Int(number) }
        if let text = value as? String { return Int(text) }
        return nil
    }

    /// `2026-12-02T14:00:00Z` or with milliseconds (`…:00.000Z`), UTC.
    static func parseExpiration(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"), bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        if bytes.count > 20 {
            guard bytes[19] == UInt8(ascii: "."), bytes.count - 21 >= 1, number(20..<(bytes.count - 1)) != nil else { return nil }
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        let days = S3Time.daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day))
        return Date(timeIntervalSince1970: Double(days * 86_400 + Int64(hour * 3600 + minute * 60 + second)))
    }
}
