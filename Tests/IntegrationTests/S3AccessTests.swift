import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Who may read what (public-read buckets and anonymous requests), checksums returned on
/// request, abandoned multipart uploads expiring, and real clients forced onto the
/// aws-chunked trailer framing they use over HTTPS.
@Suite("S3 access, checksums, expiry and trailer framing")
struct S3AccessTests {
    static let accessScript = S3Tests.pythonPrelude + #"""
    anonymous = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                             config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    def plain(method, path):
        try:
            with urllib.request.urlopen(urllib.request.Request(endpoint + path, method=method)) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
    s3.create_bucket(Bucket="site")
    s3.put_object(Bucket="site", Key="index.html", Body=b"<h1>hello</h1>", ContentType="text/html")
    # Private until made public: anonymous requests learn nothing, not even what exists.
    for call in (lambda: anonymous.get_object(Bucket="site", Key="index.html"), lambda: anonymous.list_objects_v2(Bucket="site"),
                 lambda: anonymous.get_object(Bucket="nobucket", Key="x")):
        expect(code(call) == "AccessDenied", "anonymous read of a private or missing bucket")
    expect(len(s3.get_bucket_acl(Bucket="site")["Grants"]) == 1, "a private bucket's ACL")
    s3.put_bucket_acl(Bucket="site", ACL="public-read")
    grants = s3.get_bucket_acl(Bucket="site")["Grants"]
    expect(any(g["Grantee"].get("URI") == "http://acs.amazonaws.com/groups/global/AllUsers" and g["Permission"] == "READ" for g in grants),
           "a public-read bucket's ACL: %r" % grants)
    expect(anonymous.get_object(Bucket="site", Key="index.html")["Body"].read() == b"<h1>hello</h1>", "anonymous GET")
    expect(anonymous.head_object(Bucket="site", Key="index.html")["ContentType"] == "text/html", "anonymous HEAD")
    expect([o["Key"] for o in anonymous.list_objects_v2(Bucket="site")["Contents"]] == ["index.html"], "anonymous listing")
    expect(anonymous.get_object(Bucket="site", Key="index.html", Range="bytes=4-8")["Body"].read() == b"hello", "anonymous range")
    expect(plain("GET", "/site/index.html") == (200, b"<h1>hello</h1>"), "a browser's GET")
    expect(code(lambda: anonymous.get_object(Bucket="site", Key="missing")) == "NoSuchKey", "anonymous GET of a missing key")
    # Reading is all: writes, deletes, ACLs, uploads stay signed.
    expect(code(lambda: anonymous.put_object(Bucket="site", Key="evil", Body=b"x")) == "AccessDenied", "anonymous PUT")
    expect(code(lambda: anonymous.delete_object(Bucket="site", Key="index.html")) == "AccessDenied", "anonymous DELETE")
    expect(code(lambda: anonymous.get_bucket_acl(Bucket="site")) == "AccessDenied", "anonymous GET ?acl")
    expect(code(lambda: anonymous.create_multipart_upload(Bucket="site", Key="evil")) == "AccessDenied", "anonymous multipart")
    expect(code(lambda: anonymous.list_buckets()) == "AccessDenied", "anonymous ListBuckets")
    expect(plain("DELETE", "/site/index.html")[0] == 403, "a plain DELETE")
    expect(s3.head_object(Bucket="site", Key="index.html")["ContentLength"] == 14, "still there")
    expect(code(lambda: s3.head_object(Bucket="site", Key="evil")) == "404", "nothing stored by an anonymous PUT")
    # Objects have no ACLs of their own; private is what they all are.
    expect(code(lambda: s3.put_object(Bucket="site", Key="o", Body=b"x", ACL="public-read")) == "NotImplemented", "a public object ACL")
    s3.put_object(Bucket="site", Key="o", Body=b"x", ACL="private")
    expect(code(lambda: s3.put_bucket_acl(Bucket="site", ACL="public-read-write")) == "NotImplemented", "public-read-write")
    s3.put_bucket_acl(Bucket="site", ACL="private")
    expect(code(lambda: anonymous.get_object(Bucket="site", Key="index.html")) == "AccessDenied", "private again")
    s3.create_bucket(Bucket="born-public", ACL="public-read")
    s3.put_object(Bucket="born-public", Key="k", Body=b"v")
    expect(anonymous.get_object(Bucket="born-public", Key="k")["Body"].read() == b"v", "a bucket created public-read")
    expect(code(lambda: s3.put_bucket_acl(Bucket="nobucket", ACL="public-read")) == "NoSuchBucket", "ACL of a missing bucket")
    # Checksums: verified on the way in, returned when asked, never on a range.
    body = bytes(range(256)) * 1000
    for algorithm in ("CRC32", "SHA256"):
        name = "sum-" + algorithm
        s3.put_object(Bucket="site", Key=name, Body=body, ChecksumAlgorithm=algorithm)
        got = s3.get_object(Bucket="site", Key=name, ChecksumMode="ENABLED")
        expected = base64.b64encode(zlib.crc32(body).to_bytes(4, "big") if algorithm == "CRC32" else hashlib.sha256(body).digest()).decode()
        expect(got.get("Checksum" + algorithm) == expected and got["Body"].read() == body, "%s returned: %r" % (algorithm, got))
        expect(s3.head_object(Bucket="site", Key=name, ChecksumMode="ENABLED").get("Checksum" + algorithm) == expected, "%s on HEAD" % algorithm)
        # boto3 asks by default (response_checksum_validation); this client does not.
        unasked = client(response_checksum_validation="when_required")
        expect("Checksum" + algorithm not in unasked.get_object(Bucket="site", Key=name), "%s only when asked" % algorithm)
        ranged = s3.get_object(Bucket="site", Key=name, Range="bytes=0-9", ChecksumMode="ENABLED")
        expect("Checksum" + algorithm not in ranged and ranged["Body"].read() == body[:10], "no whole-object checksum on a 206")
    # CRC32C: botocore computes it only with awscrt, so the value is computed here and sent.
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFFFFFF
    for byte in body:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc32c = base64.b64encode((crc ^ 0xFFFFFFFF).to_bytes(4, "big")).decode()
    s3.put_object(Bucket="site", Key="sum-CRC32C", Body=body, ChecksumCRC32C=crc32c)
    expect(s3.head_object(Bucket="site", Key="sum-CRC32C", ChecksumMode="ENABLED").get("ChecksumCRC32C") == crc32c, "CRC32C returned")
    expect(code(lambda: s3.put_object(Bucket="site", Key="sum-bad", Body=body + b"x", ChecksumCRC32C=crc32c)) == "BadDigest", "a wrong CRC32C")
    wrong = base64.b64encode(b"\0\0\0\0").decode()
    expect(code(lambda: s3.put_object(Bucket="site", Key="sum-bad", Body=body, ChecksumCRC32=wrong)) == "BadDigest", "a wrong CRC32")
    expect(code(lambda: s3.head_object(Bucket="site", Key="sum-bad")) == "404", "nothing stored for a wrong checksum")
    print("access OK")
    """#

    @Test("public-read buckets: anonymous GET, HEAD, ranges and listings served, everything else AccessDenied; private again when set back; checksums returned only when asked and never on a 206",
          arguments: testedEngines)
    func publicReadAndChecksums(engine: IOEngineKind) async throws {
        try await S3Tests.withS3Cluster(engine, "s3-access") { cluster, aws in
            try await S3Tests.runCheck(Self.accessScript, named: "access-check", expecting: "access OK", cluster, aws)
        }
    }

    @Test("an upload left unfinished past --multipart-expiry is aborted: it is no longer listed, its parts cannot be added to, and its chunks leave the data nodes",
          arguments: testedEngines)
    func multipartExpiry(engine: IOEngineKind) async throws {
        try await S3Tests.withS3Cluster(engine, "s3-expiry", extraOptions: ["--multipart-expiry", "10", "--deletion-grace", "0"]) { cluster, aws in
            #expect(try await aws.run(["s3", "mb", "s3://left"]).status == 0)
            let created = try await aws.run(["s3api", "create-multipart-upload", "--bucket", "left", "--key", "abandoned"])
            let id = try #require(created.stdout.split(separator: "\"").drop { $0 != "UploadId" }.dropFirst(2).first.map(String.init), "\(created)")
            let part = try await cluster.randomFile("part", size: 5 * 65536 + 3)
            let uploaded = try await aws.run(["s3api", "upload-part", "--bucket", "left", "--key", "abandoned", "--upload-id", id,
                                              "--part-number", "1", "--body", part])
            #expect(uploaded.status == 0, "\(uploaded)")
            var held = 0
            for node in cluster.dataNodes { held += try await cluster.chunks(on: node).count }
            #expect(held >= 6, "the part's chunks on the data nodes: \(held)")
            var listed = ""
            for _ in 0..<60 {
                listed = try await aws.run(["s3api", "list-multipart-uploads", "--bucket", "left"]).stdout
                if !listed.contains(id) { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(!listed.contains(id), "the upload is still listed: \(listed)")
            let late = try await aws.run(["s3api", "upload-part", "--bucket", "left", "--key", "abandoned", "--upload-id", id,
                                          "--part-number", "2", "--body", part])
            #expect(late.status != 0 && late.stderr.contains("NoSuchUpload"), "\(late)")
            for _ in 0..<60 {
                held = 0
                for node in cluster.dataNodes { held += try await cluster.chunks(on: node).count }
                if held == 0 { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(held == 0, "chunks of the expired upload left on the data nodes: \(held)")
            let metrics = try await curl(["\(cluster.base)/metrics"], scratch: cluster.scratch.tmp).text
            #expect(metrics.contains("flare_api_multipart_expired_total 1"), "\(metrics.prefix(500))")
        }
    }

    @Test("--max-object-size: a larger Content-Length is refused with 413 on the head, a longer chunked body when it gets there, S3 says EntityTooLarge; nothing stored; the limit itself fits",
          arguments: testedEngines)
    func maxObjectSize(engine: IOEngineKind) async throws {
        try await S3Tests.withS3Cluster(engine, "max-size", extraOptions: ["--max-object-size", "1MiB"]) { cluster, aws in
            let fits = try await cluster.randomFile("fits", size: 1 << 20)
            let over = try await cluster.randomFile("over", size: (1 << 20) + 1)
            #expect(try await cluster.put("fits", file: fits).status == 201)
            let announced = try await cluster.put("over", file: over, upload: .dataBinary)
            #expect(announced.status == 413 && announced.text.contains("max-object-size"), "\(announced)")
            let chunked = try await cluster.put("over-chunked", file: over, extra: ["-H", "Transfer-Encoding: chunked"])
            #expect(chunked.status == 413, "\(chunked)")
            for key in ["over", "over-chunked"] {
                #expect(try await curl(["-I", cluster.url(key)], scratch: cluster.scratch.tmp).status == 404, "\(key) was stored")
            }
            #expect(try await aws.run(["s3", "mb", "s3://sized"]).status == 0)
            let s3 = try await aws.run(["s3api", "put-object", "--bucket", "sized", "--key", "over", "--body", over])
            #expect(s3.status != 0 && s3.stderr.contains("EntityTooLarge"), "\(s3)")
            let metrics = try await curl(["\(cluster.base)/metrics"], scratch: cluster.scratch.tmp).text
            #expect(metrics.contains("flare_api_refused_total{reason=\"too_large\"}"), "\(metrics.prefix(300))")
        }
    }

    /// botocore over plain HTTP puts checksums in headers and signs the payload; over HTTPS it
    /// sends aws-chunked bodies with the checksum in a trailer. This makes it do the latter on
    /// HTTP too, in the real clients, and logs every request signed that way.
    static let forceTrailer = #"""
    import os
    import botocore.auth as auth
    import botocore.httpchecksum as checksums
    _resolve = checksums.resolve_request_checksum_algorithm
    def resolve(request, operation_model, params, *rest, **named):
        _resolve(request, operation_model, params, *rest, **named)
        algorithm = request["context"].get("checksum", {}).get("request_algorithm")
        if isinstance(algorithm, dict) and algorithm.get("in") == "header" and operation_model.has_streaming_input:
            algorithm["in"] = "trailer"
    checksums.resolve_request_checksum_algorithm = resolve
    _payload = auth.S3SigV4Auth.payload
    def payload(self, request):
        value = _payload(self, request)
        if value == auth.STREAMING_UNSIGNED_PAYLOAD_TRAILER:
            with open(os.environ["FLARE_TRAILER_LOG"], "a") as log:
                log.write(request.url + "\n")
        return value
    auth.S3SigV4Auth.payload = payload
    """#

    static let trailerScript = S3Tests.pythonPrelude + #"""
    s3.create_bucket(Bucket="trail")
    for size in (0, 1, 65535, 65536, 65537, 5 * 65536 + 7):
        data = os.urandom(size)
        s3.put_object(Bucket="trail", Key="f%d" % size, Body=data)
        expect(s3.get_object(Bucket="trail", Key="f%d" % size)["Body"].read() == data, "%d bytes with a trailer" % size)
    big = os.path.join(work, "trail-big")
    with open(big, "wb") as f:
        f.write(os.urandom(11 * 1024 * 1024 + 5))
    transfer = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=4)
    s3.upload_file(big, "trail", "big", Config=transfer)
    s3.download_file("trail", "big", big + ".back", Config=transfer)
    expect(open(big, "rb").read() == open(big + ".back", "rb").read(), "multipart with trailers")
    print("trailers OK")
    """#

    @Test("boto3 and awscli forced onto aws-chunked bodies with a CRC32 trailer over HTTP: PUTs of 0 B…many chunks, multipart uploads, aws s3 cp and sync, byte for byte",
          arguments: testedEngines)
    func trailerFraming(engine: IOEngineKind) async throws {
        try await S3Tests.withS3Cluster(engine, "s3-trailer") { cluster, aws in
            let patch = "\(cluster.scratch.tmp)/force-trailer"
            try FileManager.default.createDirectory(atPath: patch, withIntermediateDirectories: true)
            try Self.forceTrailer.write(toFile: "\(patch)/sitecustomize.py", atomically: true, encoding: .utf8)
            let log = "\(cluster.scratch.tmp)/trailer-requests.log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let environment = ["PYTHONPATH": patch, "FLARE_TRAILER_LOG": log]
            try await S3Tests.runCheck(Self.trailerScript, named: "trailer-check", expecting: "trailers OK", cluster, aws,
                                       extra: [cluster.scratch.files], environment: environment)
            let boto3Trailers = readText(log).split(separator: "\n").count
            // 6 PUTs and 3 parts at least.
            #expect(boto3Trailers >= 9, "requests boto3 signed STREAMING-UNSIGNED-PAYLOAD-TRAILER: \(boto3Trailers)")
            var cli = aws
            cli.environment = environment
            let tree = "\(cluster.scratch.files)/trailer-tree"
            try FileManager.default.createDirectory(atPath: "\(tree)/sub dir", withIntermediateDirectories: true)
            var files: [String: String] = [:]
            for (name, size) in [("empty", 0), ("one", 1), ("sub dir/edge+%", 65537), ("big", 21 * 1024 * 1024 + 1)] {
                let source = try await cluster.randomFile("trailer-\(size)", size: size)
                try FileManager.default.moveItem(atPath: source, toPath: "\(tree)/\(name)")
                files[name] = "\(tree)/\(name)"
            }
            let synced = try await cli.run(["s3", "sync", tree, "s3://trail/tree"])
            #expect(synced.status == 0, "\(synced)")
            let copied = try await cli.run(["s3", "cp", files["one"]!, "s3://trail/single"])
            #expect(copied.status == 0, "\(copied)")
            #expect(readText(log).split(separator: "\n").count >= boto3Trailers + 4, "awscli did not send trailers")
            let back = "\(cluster.scratch.files)/trailer-back"
            #expect(try await aws.run(["s3", "sync", "s3://trail/tree", back]).status == 0)
            for (name, file) in files {
                #expect(try await sameBytes(file, "\(back)/\(name)", scratch: cluster.scratch.tmp), "\(name)")
            }
        }
    }
}
