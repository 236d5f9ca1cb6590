import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// S3's browser-based uploads (POST Object with a signed policy), driven by boto3's
/// `generate_presigned_post` and requests' multipart encoder, as a web page's form would be.
@Suite("S3 browser-based uploads (POST with a policy)")
struct S3PostTests {
    static let script = S3Tests.pythonPrelude + #"""
    import requests, time, re, urllib.parse
    s3.create_bucket(Bucket="forms")
    def error_code(answer):
        found = re.search(r"<Code>([^<]*)</Code>", answer.text)
        return found.group(1) if found else None
    def send(post, body, filename="pic.png", fields=None):
        data = dict(post["fields"])
        data.update(fields or {})
        return requests.post(post["url"], data=data, files=[("file", (filename, body))], allow_redirects=False, timeout=60)
    def check(s3post, tag):
        # Every awkward size, key from ${filename}, status 201 with its XML, stored headers.
        for size in (0, 1, 65535, 65536, 65537, 5 * 65536 + 17, 20 << 20):
            body = os.urandom(size)
            post = s3post.generate_presigned_post("forms", tag + "/up/%d/${filename}" % size,
                Fields={"success_action_status": "201", "Content-Type": "image/png", "x-amz-meta-who": "browser"},
                Conditions=[{"success_action_status": "201"}, ["starts-with", "$Content-Type", "image/"], {"x-amz-meta-who": "browser"},
                            ["content-length-range", 0, 30 << 20]], ExpiresIn=600)
            answer = send(post, body)
            expect(answer.status_code == 201, "POST of %d bytes: %d %s" % (size, answer.status_code, answer.text.replace("\n", " ")))
            expect("<Key>%s/up/%d/pic.png</Key>" % (tag, size) in answer.text, "the 201 XML names the key: " + answer.text)
            etag = '"%s"' % hashlib.md5(body).hexdigest()
            expect(answer.headers.get("ETag") == etag, "the ETag is the MD5: %r" % answer.headers)
            got = s3.get_object(Bucket="forms", Key=tag + "/up/%d/pic.png" % size)
            expect(got["Body"].read() == body, "%d bytes came back different" % size)
            expect(got["ContentType"] == "image/png" and got["Metadata"] == {"who": "browser"} and got["ETag"] == etag, "stored headers: %r" % got)
        # Defaults: 204, an exact key.
        post = s3post.generate_presigned_post("forms", tag + "/plain")
        answer = send(post, b"plain bytes")
        expect(answer.status_code == 204 and answer.headers.get("ETag"), "the default answer is 204: %d %s" % (answer.status_code, answer.text))
        expect(s3.get_object(Bucket="forms", Key=tag + "/plain")["Body"].read() == b"plain bytes", tag + "/plain")
        # A redirect, with bucket, key and etag added to its query.
        post = s3post.generate_presigned_post("forms", tag + "/sent", Fields={"success_action_redirect": "http://example.com/done?x=1"},
                                          Conditions=[{"success_action_redirect": "http://example.com/done?x=1"}])
        answer = send(post, b"r")
        location = urllib.parse.urlsplit(answer.headers.get("Location", ""))
        query = urllib.parse.parse_qs(location.query)
        expect(answer.status_code == 303 and location.netloc == "example.com" and location.path == "/done"
               and query == {"x": ["1"], "bucket": ["forms"], "key": [tag + "/sent"], "etag": ['"%s"' % hashlib.md5(b"r").hexdigest()]},
               "success_action_redirect: %d %r" % (answer.status_code, answer.headers))
        # Refusals: nothing stored by any of them.
        def refused(what, answer, status, code, key):
            expect(answer.status_code == status and error_code(answer) == code,
                   "%s: %d %s (expected %d %s)" % (what, answer.status_code, answer.text, status, code))
            expect(code_of_head(key) == "404", what + ": something was stored")
        def code_of_head(key):
            return code(lambda: s3.head_object(Bucket="forms", Key=key))
        sized = s3post.generate_presigned_post("forms", tag + "/sized", Conditions=[["content-length-range", 10, 100]])
        refused("too small", send(sized, b"12345"), 400, "EntityTooSmall", tag + "/sized")
        refused("too large", send(sized, os.urandom(200000)), 400, "EntityTooLarge", tag + "/sized")
        expect(send(sized, b"x" * 50).status_code == 204, "within the range")
        s3.delete_object(Bucket="forms", Key=tag + "/sized")
        exact = s3post.generate_presigned_post("forms", tag + "/exact")
        refused("another key than the policy's", send(exact, b"x", fields={"key": tag + "/other"}), 403, "AccessDenied", tag + "/other")
        refused("a field no condition names", send(exact, b"x", fields={"x-amz-meta-extra": "1"}), 403, "AccessDenied", tag + "/exact")
        forged = dict(exact); forged["fields"] = dict(exact["fields"]); forged["fields"]["x-amz-signature" if "x-amz-signature" in forged["fields"] else "signature"] = "0" * 64
        refused("a forged signature", send(forged, b"x"), 403, "SignatureDoesNotMatch", tag + "/exact")
        stranger = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="NOBODY", aws_secret_access_key="x" * 40, region_name="us-east-1",
                                config=s3post.meta.config)
        refused("an unknown key", send(stranger.generate_presigned_post("forms", tag + "/exact"), b"x"), 403, "InvalidAccessKeyId", tag + "/exact")
        unsigned = dict(exact); unsigned["fields"] = {"key": tag + "/exact"}
        refused("no policy at all", send(unsigned, b"x"), 403, "AccessDenied", tag + "/exact")
        # A body cut off inside the file: malformed, nothing stored.
        boundary = "cutcutcut"
        fields = "".join('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, k, v) for k, v in exact["fields"].items())
        cut = (fields + '--%s\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n' % boundary).encode() + os.urandom(300000)
        answer = requests.post(exact["url"], data=cut, headers={"Content-Type": "multipart/form-data; boundary=" + boundary}, timeout=60)
        refused("a cut-off body", answer, 400, "MalformedPOSTRequest", tag + "/exact")
    short = s3.generate_presigned_post("forms", "late", ExpiresIn=1)
    time.sleep(2.5)
    expect(send(short, b"x").status_code == 403 and code(lambda: s3.head_object(Bucket="forms", Key="late")) == "404", "an expired policy")
    # boto3's default for presigned POSTs is SigV2 (AWSAccessKeyId, signature); s3v4 on request.
    v2 = s3.generate_presigned_post("forms", "k")["fields"]
    expect("signature" in v2 and "AWSAccessKeyId" in v2, "boto3's default POST signature: %r" % v2)
    check(s3, "v2")
    check(client(signature_version="s3v4"), "v4")
    missing = s3.generate_presigned_post("nobucket", "k")
    expect(error_code(send(missing, b"x")) == "NoSuchBucket", "a missing bucket")
    print("post OK")
    """#

    @Test("boto3 generate_presigned_post + requests: awkward sizes byte for byte, 201/204/303, and every refusal (range, conditions, extra fields, signature, key, expiry, cut-off body) stores nothing",
          arguments: testedEngines)
    func presignedPost(engine: IOEngineKind) async throws {
        try await S3Tests.withS3Cluster(engine, "s3-post") { cluster, aws in
            try await S3Tests.runCheck(Self.script, named: "post-check", expecting: "post OK", cluster, aws)
        }
    }
}
