import Crypto
@testable import FlareS3
import Foundation
import Testing

@Suite("S3 POST policies: signatures, expiry, conditions")
struct S3PostPolicyTests {
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let credentials = try! S3Credentials(parsing: "AKIAIOSFODNN7EXAMPLE \(secret)\n")
    static let now = Date(timeIntervalSince1970: 1_764_676_800)  // 2025-12-02T12:00:00Z

    /// A SigV4-signed form for `policy` (JSON), with `extra` fields.
    static func form(_ policy: String, _ extra: [String: String] = [:], key: String = "user/a.txt") -> [String: String] {
        let encoded = Data(policy.utf8).base64EncodedString()
        let signingKey = SigV4.signingKey(secret: secret, date: "20251202", region: "us-east-1", service: "s3")
        var fields = ["key": key, "policy": encoded, "x-amz-algorithm": "AWS4-HMAC-SHA256",
                      "x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20251202/us-east-1/s3/aws4_request", "x-amz-date": "20251202T000000Z",
                      "x-amz-signature": SigV4.signature(signingKey: signingKey, stringToSign: encoded)]
        fields.merge(extra) { $1 }
        return fields
    }

    static let signedFields = #"{"x-amz-algorithm":"AWS4-HMAC-SHA256"},{"x-amz-credential":"AKIAIOSFODNN7EXAMPLE/20251202/us-east-1/s3/aws4_request"},{"x-amz-date":"20251202T000000Z"}"#

    static func policy(_ conditions: String, expiration: String = "2025-12-02T13:00:00.000Z") -> String {
        #"{"expiration":"\#(expiration)","conditions":[\#(signedFields),\#(conditions)]}"#
    }

    @Test("conditions met: eq (object and array forms), starts-with, an empty prefix, content-length-range; field names case-blind")
    func accepted() throws {
        let text = Self.policy(#"{"bucket":"b"},["starts-with","$key","user/"],["eq","$Content-Type","text/plain"],["starts-with","$x-amz-meta-tag",""],["content-length-range",0,1048576]"#)
        let policy = try S3PostPolicy.verify(fields: Self.form(text, ["content-type": "text/plain", "x-amz-meta-tag": "anything"]),
                                             bucket: "b", credentials: Self.credentials, now: Self.now)
        #expect(policy.lengthRange == 0...1_048_576)
        #expect(policy.accessKey == "AKIAIOSFODNN7EXAMPLE")
        #expect(policy.expiration == Date(timeIntervalSince1970: 1_764_680_400))
    }

    @Test("refusals: another bucket or key, a field no condition names, expired, a changed policy, an unknown key, no policy, SigV2 signed wrong")
    func refused() throws {
        let text = Self.policy(#"{"bucket":"b"},["starts-with","$key","user/"]"#)
        func code(_ fields: [String: String], bucket: String = "b") -> String? {
            do {
                _ = try S3PostPolicy.verify(fields: fields, bucket: bucket, credentials: Self.credentials, now: Self.now)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code(Self.form(text)) == nil)
        #expect(code(Self.form(text), bucket: "c") == "AccessDenied")
        #expect(code(Self.form(text, key: "other/a.txt")) == "AccessDenied")
        #expect(code(Self.form(text, ["x-amz-meta-extra": "1"])) == "AccessDenied")
        #expect(code(Self.form(text, ["x-ignore-this": "1"])) == nil, "x-ignore-* needs no condition")
        #expect(code(Self.form(Self.policy(#"{"bucket":"b"},["starts-with","$key",""]"#, expiration: "2025-12-02T11:59:59Z"))) == "AccessDenied")
        var changed = Self.form(text)
        changed["policy"] = Data(Self.policy(#"{"bucket":"b"},["starts-with","$key",""]"#).utf8).base64EncodedString()
        #expect(code(changed) == "SignatureDoesNotMatch")
        var stranger = Self.form(text)
        stranger["x-amz-credential"] = "NOBODY/20251202/us-east-1/s3/aws4_request"
        #expect(code(stranger) == "InvalidAccessKeyId")
        var unsigned = Self.form(text)
        unsigned["policy"] = nil
        #expect(code(unsigned) == "AccessDenied")
        let encoded = Data(#"{"expiration":"2025-12-02T13:00:00Z","conditions":[{"bucket":"b"},["starts-with","$key",""]]}"#.utf8).base64EncodedString()
        let v2 = Data(HMAC<Insecure.SHA1>.authenticationCode(for: Array(encoded.utf8), using: SymmetricKey(data: Array(Self.secret.utf8))))
            .base64EncodedString()
        #expect(code(["key": "k", "policy": encoded, "awsaccesskeyid": "AKIAIOSFODNN7EXAMPLE", "signature": v2]) == nil, "SigV2")
        #expect(code(["key": "k", "policy": encoded, "awsaccesskeyid": "AKIAIOSFODNN7EXAMPLE", "signature": "AAAA" + v2.dropFirst(4)]) == "SignatureDoesNotMatch")
    }

    @Test("malformed policies are InvalidPolicyDocument", arguments: [
        "not json", #"{"conditions":[]}"#, #"{"expiration":"tomorrow","conditions":[]}"#, #"{"expiration":"2025-12-02T13:00:00Z"}"#,
        #"{"expiration":"2025-12-02T13:00:00Z","conditions":[["between","$key","a"]]}"#,
        #"{"expiration":"2025-12-02T13:00:00Z","conditions":[["content-length-range",10,1]]}"#,
        #"{"expiration":"2025-12-02T13:00:00Z","conditions":[{"a":"1","b":"2"}]}"#,
    ])
    func malformed(_ document: String) throws {
        #expect(throws: S3Error.self) { try S3PostPolicy.parse(Data(document.utf8).base64EncodedString(), accessKey: "k") }
        do {
            _ = try S3PostPolicy.parse(Data(document.utf8).base64EncodedString(), accessKey: "k")
        } catch {
            #expect(error.code == "InvalidPolicyDocument" && error.status == 400, "\(document): \(error)")
        }
    }

    @Test("expiration: with and without milliseconds; anything else is not a date")
    func expiration() {
        #expect(S3PostPolicy.parseExpiration("2025-12-02T12:00:00Z") == Self.now)
        #expect(S3PostPolicy.parseExpiration("2025-12-02T12:00:00.123Z") == Self.now)
        for bad in ["2025-12-02 12:00:00Z", "2025-12-02T12:00:00", "2025-13-02T12:00:00Z", "2025-12-02T12:00:00.Z", ""] {
            #expect(S3PostPolicy.parseExpiration(bad) == nil, "\(bad)")
        }
    }
}
