import Foundation
import Testing
@testable import FlareS3

/// Cases of AWS's generic SigV4 test suite (awslabs/aws-c-auth,
/// tests/aws-signing-test-suite/v4/<case>/), quoted as literals: the request as the signer saw
/// it, the signature of header-signature.txt (and, for some, the canonical request or the string
/// to sign). The suite signs for service `service`, not `s3`, with no payload-hash header, so
/// these run through the verifier with that service's settings.
@Suite struct AWSSigningSuiteTests {
    static let service = SigV4Service(name: "service", presignedPayloadHash: SigV4.emptySHA256, contentSHA256Required: false)
    static let credentials = try! S3Credentials(parsing: "AKIDEXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n")
    static let now = S3Time.parseAmzDate("20150830T123600Z")!
    static let scope = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let method: String
        let target: String
        let headers: [(name: String, value: String)]
        let signedHeaders: String
        let signature: String
        var testDescription: String { name }
    }

    static let host = (name: "Host", value: "example.amazonaws.com")
    static let date = (name: "X-Amz-Date", value: "20150830T123600Z")

    static let cases: [Case] = [
        Case(name: "get-vanilla", method: "GET", target: "/", headers: [host, date],
             signedHeaders: "host;x-amz-date", signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        Case(name: "get-header-value-trim", method: "GET", target: "/",
             headers: [host, ("My-Header1", " value1"), ("My-Header2", " \"a   b   c\""), date],
             signedHeaders: "host;my-header1;my-header2;x-amz-date", signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
        Case(name: "get-header-key-duplicate", method: "GET", target: "/",
             headers: [host, ("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1"), date],
             signedHeaders: "host;my-header1;x-amz-date", signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
        Case(name: "get-header-value-order", method: "GET", target: "/",
             headers: [host, ("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2"), date],
             signedHeaders: "host;my-header1;x-amz-date", signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
        Case(name: "get-header-value-multiline", method: "GET", target: "/",
             headers: [host, ("My-Header1", "value1\r\n  value2\r\n     value3"), date],
             signedHeaders: "host;my-header1;x-amz-date", signature: "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd"),
        Case(name: "get-slashes-unnormalized", method: "GET", target: "//example//", headers: [host, date],
             signedHeaders: "host;x-amz-date", signature: "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5"),
        Case(name: "get-relative-relative-unnormalized", method: "GET", target: "/example1/example2/../..", headers: [host, date],
             signedHeaders: "host;x-amz-date", signature: "dc33e0856fd4baca4d7aa2146c38958283844764f38c74252a333df5e613003b"),
        Case(name: "get-space-unnormalized (space sent encoded)", method: "GET", target: "/example%20space/", headers: [host, date],
             signedHeaders: "host;x-amz-date", signature: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
        Case(name: "get-space-unnormalized (space sent raw)", method: "GET", target: "/example space/", headers: [host, date],
             signedHeaders: "host;x-amz-date", signature: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
        Case(name: "get-unreserved", method: "GET", target: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
             headers: [host, date], signedHeaders: "host;x-amz-date", signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
        Case(name: "get-utf8 (raw UTF-8 path)", method: "GET", target: "/\u{1234}", headers: [host, date],
             signedHeaders: "host;x-amz-date", signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
        Case(name: "get-vanilla-query-order-encoded", method: "GET", target: "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
             headers: [host, date], signedHeaders: "host;x-amz-date", signature: "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"),
        Case(name: "get-vanilla-query-unreserved", method: "GET",
             target: "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
             headers: [host, date], signedHeaders: "host;x-amz-date", signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
        Case(name: "get-vanilla-utf8-query (raw UTF-8 name)", method: "GET", target: "/?\u{1234}=bar", headers: [host, date],
             signedHeaders: "host;x-amz-date", signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
        Case(name: "post-vanilla-empty-query-value", method: "POST", target: "/?Param1=value1", headers: [host, date],
             signedHeaders: "host;x-amz-date", signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
        Case(name: "get-vanilla-with-session-token", method: "GET", target: "/",
             headers: [host, ("X-Amz-Security-Token", "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"), date],
             signedHeaders: "host;x-amz-date;x-amz-security-token", signature: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"),
        Case(name: "post-x-www-form-urlencoded", method: "POST", target: "/",
             headers: [("Content-Type", "application/x-www-form-urlencoded"), host, ("Content-Length", "13"), date,
                       ("x-amz-content-sha256", "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e")],
             signedHeaders: "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
             signature: "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"),
    ]

    static func head(_ c: Case, signature: String? = nil) -> S3RequestHead {
        let authorization = "AWS4-HMAC-SHA256 Credential=\(scope), SignedHeaders=\(c.signedHeaders), Signature=\(signature ?? c.signature)"
        return S3RequestHead(method: c.method, target: c.target, headers: c.headers + [("Authorization", authorization)])
    }

    static func verify(_ head: S3RequestHead) throws(S3Error) -> S3Authentication? {
        try S3Auth.verify(head, credentials: credentials, now: now, region: "us-east-1", clockSkewSeconds: 900,
                          baseDomain: nil, service: service)
    }

    @Test(arguments: cases)
    func headerSignatureVerifies(_ c: Case) throws {
        let auth = try #require(try Self.verify(Self.head(c)))
        #expect(auth.accessKey == "AKIDEXAMPLE")
        #expect(!auth.presigned)
    }

    @Test(arguments: cases)
    func oneFlippedSignatureDigitIsRefused(_ c: Case) {
        let last = c.signature.last == "0" ? "1" : "0"
        let forged = String(c.signature.dropLast()) + last
        #expect(throws: S3Error.signatureDoesNotMatch()) { try Self.verify(Self.head(c, signature: forged)) }
    }

    @Test func canonicalRequestOfQueryOrderEncoded() {
        let c = Self.cases.first { $0.name == "get-vanilla-query-order-encoded" }!
        let canonical = SigV4.canonicalRequest(Self.head(c), signedHeaders: ["host", "x-amz-date"],
                                               payloadHash: SigV4.emptySHA256, excludingSignature: false)
        #expect(canonical == """
            GET
            /
            %E1%88%B4=Value1&Param=Value2&Param-3=Value3
            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(SigV4.stringToSign(amzDate: "20150830T123600Z", scope: "20150830/us-east-1/service/aws4_request", canonicalRequest: canonical)
            == "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n868294f5c38bd141c4972a373a76654f1418a8e4fc18b2e7903ae45e8ae0ec71")
    }

    @Test func canonicalRequestOfHeaderValueTrim() {
        let c = Self.cases.first { $0.name == "get-header-value-trim" }!
        let canonical = SigV4.canonicalRequest(Self.head(c), signedHeaders: ["host", "my-header1", "my-header2", "x-amz-date"],
                                               payloadHash: SigV4.emptySHA256, excludingSignature: false)
        #expect(canonical == "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n" + SigV4.emptySHA256)
        #expect(SigV4.sha256Hex(Array(canonical.utf8)) == "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7")
    }

    // The suite's query-signed-request.txt cases: presigned, X-Amz-Expires=3600.
    @Test(arguments: [
        ("/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d", "get-vanilla"),
        ("/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=c5f1848ceec943ac2ca68ee720460c23aaae30a2300586597ada94c4a65e4787", "get-vanilla-query-order-encoded"),
    ])
    func presignedQueryVerifies(target: String, name: String) throws {
        let head = S3RequestHead(method: "GET", target: target, headers: [Self.host])
        let auth = try #require(try Self.verify(head))
        #expect(auth.presigned)
        #expect(auth.payload == .sha256(hex: SigV4.emptySHA256))
        let tampered = S3RequestHead(method: "GET", target: target.replacingOccurrences(of: "X-Amz-Expires=3600", with: "X-Amz-Expires=3601"), headers: [Self.host])
        #expect(throws: S3Error.signatureDoesNotMatch()) { try Self.verify(tampered) }
    }
}
