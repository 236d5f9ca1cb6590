import Crypto
import Foundation
import Testing
@testable import FlareS3

/// The worked examples of S3's documentation ("Signature Calculations for the Authorization
/// Header", "Query string authentication", "Signature calculation for streaming uploads",
/// SigV2's "Query string request authentication"), and one request of each kind of failure.
@Suite struct S3DocumentationSigV4Tests {
    static let accessKey = "AKIAIOSFODNN7EXAMPLE"
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let credentials = try! S3Credentials(parsing: "# the documentation's example key\n\(accessKey) \(secret)\n")
    static let signedAt = S3Time.parseAmzDate("20130524T000000Z")!
    static let emptyHash = SigV4.emptySHA256

    /// GET /test.txt with `Range: bytes=0-9`, signed f0e8bdb8…; written without spaces after the
    /// commas, as s3cmd writes it.
    static func getObject(range: String = "bytes=0-9", target: String = "/test.txt", method: String = "GET",
                          signature: String = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
                          accessKey: String = accessKey, extra: [(name: String, value: String)] = []) -> S3RequestHead {
        S3RequestHead(method: method, target: target, headers: [
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=\(accessKey)/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=\(signature)"),
            ("Range", range),
            ("x-amz-content-sha256", emptyHash),
            ("x-amz-date", "20130524T000000Z"),
        ] + extra)
    }

    static func verify(_ head: S3RequestHead, credentials: S3Credentials = credentials, now: Date = signedAt,
                       region: String? = "us-east-1", baseDomain: String? = nil) throws(S3Error) -> S3Authentication? {
        try S3Auth.verify(head, credentials: credentials, now: now, region: region, baseDomain: baseDomain)
    }

    @Test func getObjectWithRange() throws {
        let auth = try #require(try Self.verify(Self.getObject()))
        #expect(auth.accessKey == Self.accessKey)
        #expect(auth.payload == .sha256(hex: Self.emptyHash))
        #expect(!auth.presigned)
    }

    @Test func getObjectCanonicalRequest() {
        let canonical = SigV4.canonicalRequest(Self.getObject(), signedHeaders: ["host", "range", "x-amz-content-sha256", "x-amz-date"],
                                               payloadHash: Self.emptyHash, excludingSignature: false)
        #expect(canonical == "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\nx-amz-content-sha256:\(Self.emptyHash)\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\(Self.emptyHash)")
        #expect(SigV4.sha256Hex(Array(canonical.utf8)) == "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")
    }

    @Test(arguments: ["/test%24file.text", "/test$file.text"])
    func putObject(target: String) throws {
        let head = S3RequestHead(method: "PUT", target: target, headers: [
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
        ])
        let auth = try #require(try Self.verify(head))
        #expect(auth.payload == .sha256(hex: "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"))
    }

    @Test(arguments: [
        ("/?lifecycle", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        ("/?max-keys=2&prefix=J", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ])
    func bucketRequests(target: String, signature: String) throws {
        let head = S3RequestHead(method: "GET", target: target, headers: [
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", Self.emptyHash),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=\(signature)"),
        ])
        #expect(try Self.verify(head)?.accessKey == Self.accessKey)
    }

    static let presignedTarget = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

    static func presigned(_ target: String = presignedTarget, extra: [(name: String, value: String)] = []) -> S3RequestHead {
        S3RequestHead(method: "GET", target: target, headers: [("Host", "examplebucket.s3.amazonaws.com")] + extra)
    }

    @Test func presignedURL() throws {
        let auth = try #require(try Self.verify(Self.presigned(), now: Self.signedAt.addingTimeInterval(86_400)))
        #expect(auth.presigned)
        #expect(auth.payload == .unsigned)
    }

    @Test func presignedURLExpired() {
        #expect(throws: S3Error.accessDenied("Request has expired")) {
            try Self.verify(Self.presigned(), now: Self.signedAt.addingTimeInterval(86_401))
        }
    }

    @Test func presignedURLNotYetValid() {
        #expect(throws: S3Error.accessDenied("Request is not valid yet")) {
            try Self.verify(Self.presigned(), now: Self.signedAt.addingTimeInterval(-901))
        }
    }

    @Test func presignedURLChangedPathOrParameter() {
        let otherKey = Self.presignedTarget.replacingOccurrences(of: "/test.txt?", with: "/test.tx?")
        let extraParameter = Self.presignedTarget + "&versionId=1"
        for target in [otherKey, extraParameter] {
            #expect(throws: S3Error.signatureDoesNotMatch()) { try Self.verify(Self.presigned(target), now: Self.signedAt) }
        }
    }

    @Test func presignedURLWithUnsignedAmzHeader() {
        #expect(throws: S3Error.accessDenied("There were headers present in the request which were not signed: x-amz-copy-source")) {
            try Self.verify(Self.presigned(extra: [("X-Amz-Copy-Source", "/other/key")]), now: Self.signedAt)
        }
    }

    /// The streaming example: PUT of 66560 bytes of "a" in aws-chunked chunks of 64 KiB, seed
    /// signature 4f232c43…, then the chunk signatures the documentation lists, computed from the
    /// returned `S3ChunkSigning` as a chunk verifier would.
    @Test func streamingUploadSeedAndChunkSignatures() throws {
        let head = S3RequestHead(method: "PUT", target: "/examplebucket/chunkObject.txt", headers: [
            ("Host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("Content-Length", "66824"),
        ])
        let auth = try #require(try Self.verify(head))
        guard case .streamingSigned(let signing) = auth.payload else {
            Issue.record("expected streamingSigned, got \(auth.payload)")
            return
        }
        #expect(signing.amzDate == "20130524T000000Z")
        #expect(signing.scope == "20130524/us-east-1/s3/aws4_request")
        #expect(signing.seedSignature == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
        var previous = signing.seedSignature
        for (size, expected) in [(65_536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
                                 (1_024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
                                 (0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")] {
            let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: size)
            let toSign = "AWS4-HMAC-SHA256-PAYLOAD\n\(signing.amzDate)\n\(signing.scope)\n\(previous)\n\(SigV4.emptySHA256)\n\(SigV4.sha256Hex(chunk))"
            let signature = SigV4.signature(signingKey: signing.signingKey, stringToSign: toSign)
            #expect(signature == expected)
            previous = signature
        }
    }

    /// SigV2's documented presigned GET of johnsmith's photos/puppy.jpg, virtual-host style.
    @Test func sigV2PresignedURL() throws {
        let head = S3RequestHead(method: "GET", target: "/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620",
                                 headers: [("Host", "johnsmith.s3.amazonaws.com")])
        let before = Date(timeIntervalSince1970: 1_175_139_000)
        let auth = try #require(try Self.verify(head, now: before, baseDomain: "s3.amazonaws.com"))
        #expect(auth.presigned)
        #expect(auth.payload == .unsigned)
        #expect(throws: S3Error.accessDenied("Request has expired")) {
            try Self.verify(head, now: Date(timeIntervalSince1970: 1_175_139_621), baseDomain: "s3.amazonaws.com")
        }
        let pathStyle = S3RequestHead(method: "GET", target: "/johnsmith" + head.target, headers: [("Host", "s3.amazonaws.com")])
        #expect(try Self.verify(pathStyle, now: before, baseDomain: "s3.amazonaws.com") != nil)
        let otherKey = S3RequestHead(method: "GET", target: head.target.replacingOccurrences(of: "puppy", with: "kitten"), headers: head.headers)
        #expect(throws: S3Error.signatureDoesNotMatch()) { try Self.verify(otherKey, now: before, baseDomain: "s3.amazonaws.com") }
    }

    // MARK: each failure its own code

    @Test func anonymousRequestIsNil() throws {
        let head = S3RequestHead(method: "GET", target: "/bucket/key?prefix=a", headers: [("Host", "localhost")])
        #expect(try Self.verify(head) == nil)
    }

    @Test func wrongSecret() throws {
        let other = try S3Credentials(parsing: "\(Self.accessKey) wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ")
        #expect(throws: S3Error.signatureDoesNotMatch()) { try Self.verify(Self.getObject(), credentials: other) }
    }

    @Test func changedHeaderQueryPathOrMethod() {
        for head in [Self.getObject(range: "bytes=0-10"), Self.getObject(target: "/test.txt?acl"),
                     Self.getObject(target: "/test.txT"), Self.getObject(method: "HEAD")] {
            #expect(throws: S3Error.signatureDoesNotMatch()) { try Self.verify(head) }
        }
    }

    @Test func unknownAccessKey() {
        #expect(throws: S3Error.invalidAccessKeyId()) { try Self.verify(Self.getObject(accessKey: "AKIAUNKNOWNEXAMPLE00")) }
    }

    @Test func skewedDate() throws {
        #expect(try Self.verify(Self.getObject(), now: Self.signedAt.addingTimeInterval(900)) != nil)
        #expect(throws: S3Error.requestTimeTooSkewed()) { try Self.verify(Self.getObject(), now: Self.signedAt.addingTimeInterval(901)) }
        #expect(throws: S3Error.requestTimeTooSkewed()) { try Self.verify(Self.getObject(), now: Self.signedAt.addingTimeInterval(-901)) }
    }

    @Test func wrongRegion() {
        #expect(throws: S3Error.self) { try Self.verify(Self.getObject(), region: "eu-west-1") }
        do {
            _ = try Self.verify(Self.getObject(), region: "eu-west-1")
        } catch {
            #expect(error.code == "AuthorizationHeaderMalformed")
            #expect(error.status == 400)
        }
    }

    @Test func unsignedAmzHeader() {
        #expect(throws: S3Error.accessDenied("There were headers present in the request which were not signed: x-amz-meta-owner")) {
            try Self.verify(Self.getObject(extra: [("X-Amz-Meta-Owner", "mallory")]))
        }
    }

    @Test(arguments: [
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130525/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=range, Signature=00",
    ])
    func malformedAuthorization(_ authorization: String) {
        let head = S3RequestHead(method: "GET", target: "/", headers: [
            ("Host", "h"), ("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", Self.emptyHash), ("Authorization", authorization),
        ])
        do {
            _ = try Self.verify(head)
            Issue.record("accepted \(authorization)")
        } catch {
            #expect(error.code == "AuthorizationHeaderMalformed")
        }
    }

    @Test func sigV2HeaderIsRefusedClearly() {
        let head = S3RequestHead(method: "GET", target: "/", headers: [("Host", "h"), ("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=")])
        #expect(throws: S3Error.invalidArgument("SigV2 Authorization headers are not supported; sign requests with SigV4 (AWS4-HMAC-SHA256)")) {
            try Self.verify(head)
        }
    }

    @Test func missingContentSHA256() {
        let head = S3RequestHead(method: "GET", target: "/", headers: [
            ("Host", "h"), ("x-amz-date", "20130524T000000Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"),
        ])
        #expect(throws: S3Error.invalidRequest("Missing required header for this request: x-amz-content-sha256")) { try Self.verify(head) }
    }

    @Test func headerAndQuerySignatureTogether() {
        let head = Self.getObject(target: "/test.txt?X-Amz-Signature=00")
        do {
            _ = try Self.verify(head)
            Issue.record("accepted two signatures")
        } catch {
            #expect(error.code == "InvalidArgument")
        }
    }

    // MARK: payload modes, over requests this test signs itself

    static func signed(payloadHash: String, extraSigned: [(name: String, value: String)] = []) -> S3RequestHead {
        var head = S3RequestHead(method: "PUT", target: "/bucket/key", headers: [
            ("Host", "localhost:9000"), ("x-amz-content-sha256", payloadHash), ("x-amz-date", "20130524T000000Z"),
        ] + extraSigned)
        let names = head.headers.map { $0.name.lowercased() }.sorted()
        let canonical = SigV4.canonicalRequest(head, signedHeaders: names, payloadHash: payloadHash, excludingSignature: false)
        let key = SigV4.signingKey(secret: secret, date: "20130524", region: "us-east-1", service: "s3")
        let signature = SigV4.signature(signingKey: key, stringToSign: SigV4.stringToSign(amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request", canonicalRequest: canonical))
        head.headers.append(("Authorization", "AWS4-HMAC-SHA256 Credential=\(accessKey)/20130524/us-east-1/s3/aws4_request, SignedHeaders=\(names.joined(separator: ";")), Signature=\(signature)"))
        return head
    }

    @Test func payloadModes() throws {
        #expect(try Self.verify(Self.signed(payloadHash: "UNSIGNED-PAYLOAD"))?.payload == .unsigned)
        #expect(try Self.verify(Self.signed(payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                            extraSigned: [("x-amz-trailer", "x-amz-checksum-crc32")]))?.payload == .streamingUnsignedTrailer)
        let upper = "44CE7DD67C959E0D3524FFAC1771DFBBA87D2B6B4B4E99E42034A8B803F8B072"
        #expect(try Self.verify(Self.signed(payloadHash: upper))?.payload == .sha256(hex: upper.lowercased()))
        guard case .streamingSignedTrailer(let signing)? = try Self.verify(Self.signed(payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"))?.payload else {
            Issue.record("expected streamingSignedTrailer")
            return
        }
        #expect(signing.signingKey == SigV4.signingKey(secret: Self.secret, date: "20130524", region: "us-east-1", service: "s3"))
        #expect(throws: S3Error.self) { try Self.verify(Self.signed(payloadHash: "not-a-hash")) }
    }
}
