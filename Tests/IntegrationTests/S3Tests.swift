import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// What `aws` printed, and how it exited.
struct AWSRun: CustomStringConvertible {
    var status: Int32?
    var stdout: String
    var stderr: String
    var description: String { "exit \(status.map { "\($0)" } ?? "none (killed)"): \(stdout.suffix(800)) \(stderr.suffix(800))" }
}

/// The real awscli against a cluster's S3 listener, with the key the test wrote.
struct AWSClient {
    let endpoint: String
    let scratch: String
    var accessKey = "AKIAFLARETEST0001"
    var secretKey = "flare-test-secret-key-0001"
    /// Set for this client's runs besides the keys (PYTHONPATH for a patched botocore).
    var environment: [String: String] = [:]

    func run(_ arguments: [String]) async throws -> AWSRun {
        let executable = ["/usr/local/bin/aws", "/usr/bin/aws", "/root/.pyenv/shims/aws"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let executable else { throw StartFailure(description: "awscli is not installed (make deps installs it)") }
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = accessKey
        environment["AWS_SECRET_ACCESS_KEY"] = secretKey
        environment["AWS_DEFAULT_REGION"] = "us-east-1"
        environment["AWS_CONFIG_FILE"] = "/dev/null"
        environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
        environment["AWS_MAX_ATTEMPTS"] = "1"
        environment.merge(self.environment) { $1 }
        let name = UUID().uuidString
        let outPath = "\(scratch)/aws-\(name).out", errPath = "\(scratch)/aws-\(name).err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { unlink(outPath); unlink(errPath) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let child = try ChildProcess(executable, ["--endpoint-url", endpoint] + arguments, stdout: out, stderr: err, environment: environment)
        try out.close()
        try err.close()
        defer { child.killNow() }
        let status = await child.exitStatus(within: 120)
        return AWSRun(status: status, stdout: readText(outPath), stderr: readText(errPath))
    }
}

/// awscli, unchanged, against Flare's S3 API on both engines: buckets, objects of awkward
/// sizes byte for byte, listings, ranges, the native API's objects seen through S3, and
/// requests refused for a bad key, a bad signature or none at all.
@Suite("S3 API with awscli")
struct S3Tests {
    static let credentials = "# test keys\nAKIAFLARETEST0001 flare-test-secret-key-0001\n"

    static func withS3Cluster(_ engine: IOEngineKind, _ label: String, extraOptions: [String] = [],
                              _ body: (Cluster, AWSClient) async throws -> Void) async throws {
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("flare-s3-keys-\(UUID().uuidString)").path
        try credentials.write(toFile: keys, atomically: true, encoding: .utf8)
        defer { unlink(keys) }
        try await withCluster(engine, label, apiOptions: ["--chunk-size", "64KiB", "--s3-port", "0", "--s3-credentials", keys] + extraOptions) { cluster in
            let line = try #require(cluster.api.currentLog().split(separator: "\n").first { $0.contains("S3 API on ") },
                                    "no S3 listener in the api's log")
            let address = line[line.range(of: "S3 API on ")!.upperBound...].prefix { $0 != " " }
            let endpoint = "http://\(address)"
            try await body(cluster, AWSClient(endpoint: endpoint, scratch: cluster.scratch.tmp))
        }
    }

    @Test("aws s3 mb/cp/ls/rm/rb and s3api: 0 B, 1 B, chunk−1, chunk, chunk+1 and 5 MiB byte for byte, MD5 ETags, a range, listings with prefixes, the native bucket",
          arguments: testedEngines)
    func awscliRoundTrips(engine: IOEngineKind) async throws {
        try await Self.withS3Cluster(engine, "s3-aws") { cluster, aws in
            #expect(try await aws.run(["s3", "mb", "s3://photos"]).status == 0)
            let again = try await aws.run(["s3api", "create-bucket", "--bucket", "photos"])
            #expect(again.status != 0 && again.stderr.contains("BucketAlreadyOwnedByYou"), "\(again)")
            let sizes = [0, 1, 65535, 65536, 65537, 5 << 20]
            var files: [String: String] = [:]
            for size in sizes {
                let key = "dir/file \(size)+x"
                let file = try await cluster.randomFile("s3-\(size)", size: size)
                files[key] = file
                let put = try await aws.run(["s3", "cp", file, "s3://photos/\(key)"])
                #expect(put.status == 0, "cp \(size): \(put)")
                let head = try await aws.run(["s3api", "head-object", "--bucket", "photos", "--key", key])
                let md5 = try await md5Hex(file, cluster)
                #expect(head.status == 0 && head.stdout.contains("\\\"\(md5)\\\"") && head.stdout.contains("\"ContentLength\": \(size)"), "\(head)")
            }
            for (key, file) in files {
                let get = try await aws.run(["s3", "cp", "s3://photos/\(key)", file + ".back"])
                #expect(get.status == 0, "\(get)")
                #expect(try await sameBytes(file, file + ".back", scratch: cluster.scratch.tmp), "\(key) came back different")
            }
            let big = files["dir/file \(5 << 20)+x"]!
            let ranged = try await aws.run(["s3api", "get-object", "--bucket", "photos", "--key", "dir/file \(5 << 20)+x", "--range", "bytes=70000-70099", big + ".range"])
            #expect(ranged.status == 0 && ranged.stdout.contains("bytes 70000-70099/\(5 << 20)"), "\(ranged)")
            let whole = try Data(contentsOf: URL(fileURLWithPath: big)), part = try Data(contentsOf: URL(fileURLWithPath: big + ".range"))
            #expect(part == whole[70000..<70100])
            let listing = try await aws.run(["s3", "ls", "s3://photos/"])
            #expect(listing.stdout.contains("PRE dir/"), "\(listing)")
            let recursive = try await aws.run(["s3", "ls", "--recursive", "s3://photos/"])
            #expect(sizes.allSatisfy { recursive.stdout.contains("dir/file \($0)+x") }, "\(recursive)")
            let paged = try await aws.run(["s3api", "list-objects-v2", "--bucket", "photos", "--page-size", "2", "--prefix", "dir/"])
            #expect(paged.status == 0 && sizes.allSatisfy { paged.stdout.contains("dir/file \($0)+x") }, "paged listing: \(paged)")
            let notEmpty = try await aws.run(["s3", "rb", "s3://photos"])
            #expect(notEmpty.status != 0 && notEmpty.stderr.contains("BucketNotEmpty"), "\(notEmpty)")
            #expect(try await aws.run(["s3", "rm", "--recursive", "s3://photos/"]).status == 0)
            #expect(try await aws.run(["s3", "rb", "s3://photos"]).status == 0)
            let gone = try await aws.run(["s3", "ls", "s3://photos/"])
            #expect(gone.status != 0 && gone.stderr.contains("NoSuchBucket"), "\(gone)")
            // The native API's objects are the bucket flare's.
            let native = try await cluster.randomFile("native", size: 70000)
            #expect(try await cluster.put("n/one", file: native).status == 201)
            #expect(try await aws.run(["s3", "cp", "s3://flare/n/one", native + ".s3"]).status == 0)
            #expect(try await sameBytes(native, native + ".s3", scratch: cluster.scratch.tmp))
            let missing = try await aws.run(["s3api", "head-object", "--bucket", "flare", "--key", "nothing"])
            #expect(missing.status != 0 && missing.stderr.contains("404"), "\(missing)")
        }
    }

    @Test("multipart: aws s3 cp of 21 MB splits into 8 MiB parts, the ETag is S3's MD5-of-MD5s, it reads back whole and by a range across parts; s3api parts in any order, a part re-sent, a wrong ETag refused, abort",
          arguments: testedEngines)
    func multipart(engine: IOEngineKind) async throws {
        try await Self.withS3Cluster(engine, "s3-mpu") { cluster, aws in
            #expect(try await aws.run(["s3", "mb", "s3://parts"]).status == 0)
            let big = try await cluster.randomFile("s3-big", size: 21_000_017)
            let put = try await aws.run(["s3", "cp", big, "s3://parts/big"])
            #expect(put.status == 0, "\(put)")
            let head = try await aws.run(["s3api", "head-object", "--bucket", "parts", "--key", "big"])
            let expected = try await multipartETag(big, partSize: 8 << 20, cluster)
            #expect(head.stdout.contains("\\\"\(expected)\\\""), "ETag \(expected) expected: \(head)")
            #expect(try await aws.run(["s3", "cp", "s3://parts/big", big + ".back"]).status == 0)
            #expect(try await sameBytes(big, big + ".back", scratch: cluster.scratch.tmp), "the multipart object came back different")
            let ranged = try await aws.run(["s3api", "get-object", "--bucket", "parts", "--key", "big", "--range", "bytes=8388000-8390000", big + ".range"])
            #expect(ranged.status == 0, "\(ranged)")
            let whole = try Data(contentsOf: URL(fileURLWithPath: big))
            #expect(try Data(contentsOf: URL(fileURLWithPath: big + ".range")) == whole[8_388_000...8_390_000], "a range across two parts")

            // By hand: parts sent out of order, one sent twice, then a wrong ETag, then the right ones.
            let created = try await aws.run(["s3api", "create-multipart-upload", "--bucket", "parts", "--key", "hand", "--content-type", "text/x-test"])
            let uploadID = try #require(created.stdout.split(separator: "\"").drop { $0 != "UploadId" }.dropFirst(2).first.map(String.init), "\(created)")
            let first = try await cluster.randomFile("s3-part1", size: 5 << 20), second = try await cluster.randomFile("s3-part2", size: 1000)
            let stale = try await cluster.randomFile("s3-part2-old", size: 2000)
            var etags: [Int: String] = [:]
            for (number, file) in [(2, stale), (1, first), (2, second)] {
                let part = try await aws.run(["s3api", "upload-part", "--bucket", "parts", "--key", "hand", "--upload-id", uploadID,
                                              "--part-number", "\(number)", "--body", file])
                #expect(part.status == 0, "\(part)")
                etags[number] = try await md5Hex(file, cluster)
            }
            let listed = try await aws.run(["s3api", "list-parts", "--bucket", "parts", "--key", "hand", "--upload-id", uploadID])
            #expect(listed.stdout.contains(etags[2]!) && listed.stdout.contains("\"Size\": 1000"), "the re-sent part replaces the first: \(listed)")
            func complete(_ parts: [(Int, String)]) async throws -> AWSRun {
                let json = "{\"Parts\":[" + parts.map { "{\"PartNumber\":\($0.0),\"ETag\":\"\\\"\($0.1)\\\"\"}" }.joined(separator: ",") + "]}"
                return try await aws.run(["s3api", "complete-multipart-upload", "--bucket", "parts", "--key", "hand", "--upload-id", uploadID,
                                          "--multipart-upload", json])
            }
            let wrong = try await complete([(1, etags[1]!), (2, try await md5Hex(stale, cluster))])
            #expect(wrong.status != 0 && wrong.stderr.contains("InvalidPart"), "\(wrong)")
            let done = try await complete([(1, etags[1]!), (2, etags[2]!)])
            #expect(done.status == 0, "\(done)")
            #expect(try await aws.run(["s3", "cp", "s3://parts/hand", first + ".hand"]).status == 0)
            let assembled = try Data(contentsOf: URL(fileURLWithPath: first)) + Data(contentsOf: URL(fileURLWithPath: second))
            #expect(try Data(contentsOf: URL(fileURLWithPath: first + ".hand")) == assembled)
            let typed = try await aws.run(["s3api", "head-object", "--bucket", "parts", "--key", "hand"])
            #expect(typed.stdout.contains("text/x-test"), "\(typed)")

            let another = try await aws.run(["s3api", "create-multipart-upload", "--bucket", "parts", "--key", "dropped"])
            let droppedID = try #require(another.stdout.split(separator: "\"").drop { $0 != "UploadId" }.dropFirst(2).first.map(String.init))
            #expect(try await aws.run(["s3api", "upload-part", "--bucket", "parts", "--key", "dropped", "--upload-id", droppedID,
                                       "--part-number", "1", "--body", second]).status == 0)
            #expect(try await aws.run(["s3api", "abort-multipart-upload", "--bucket", "parts", "--key", "dropped", "--upload-id", droppedID]).status == 0)
            let after = try await aws.run(["s3api", "list-parts", "--bucket", "parts", "--key", "dropped", "--upload-id", droppedID])
            #expect(after.status != 0 && after.stderr.contains("NoSuchUpload"), "\(after)")
        }
    }

    /// boto3, driven by a script the test writes: every call checked by the script itself,
    /// which exits non-zero naming the first thing that was wrong.
    /// What every boto3 check script begins with: its arguments (endpoint, key, secret, and a
    /// work directory when given), `client(**config)` for a client that never retries and `s3`,
    /// one such; `expect`, and `code` (the S3 error code a call fails with, or None).
    static let pythonPrelude = #"""
    import sys, os, hashlib, base64, zlib, datetime, urllib.request, urllib.error
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from boto3.s3.transfer import TransferConfig
    endpoint, key, secret = sys.argv[1:4]
    work = sys.argv[4] if len(sys.argv) > 4 else None
    def client(**config):
        return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                            region_name="us-east-1", config=Config(retries={"max_attempts": 1}, **config))
    s3 = client()
    def expect(condition, what):
        if not condition:
            print("FAILED: " + what); sys.exit(1)
    def code(call):
        try:
            call(); return None
        except ClientError as error:
            return error.response["Error"]["Code"]

    """#

    /// Writes `script` to the scratch directory as `name`.py and runs it with python3 against
    /// `aws`'s endpoint and key (then `extra`); expects exit 0 and `marker` printed.
    static func runCheck(_ script: String, named name: String, expecting marker: String, _ cluster: Cluster, _ aws: AWSClient,
                         extra: [String] = [], environment: [String: String] = [:]) async throws {
        let path = "\(cluster.scratch.tmp)/\(name).py"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        let run = try await runProgram("/usr/bin/env", environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                                       + ["python3", path, aws.endpoint, aws.accessKey, aws.secretKey] + extra, in: cluster.scratch.tmp)
        #expect(run.status == 0 && run.stdout.contains(marker), "\(name): exit \(run.status): \(run.stdout.suffix(1500)) \(run.stderr.suffix(2500))")
    }

    static let boto3Script = pythonPrelude + #"""
    s3.create_bucket(Bucket="boto")
    body = os.urandom(70000)
    put = s3.put_object(Bucket="boto", Key="dir/one", Body=body, ContentType="text/x-boto", Metadata={"color": "blue"})
    expect(put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), "PutObject's ETag is the MD5")
    got = s3.get_object(Bucket="boto", Key="dir/one")
    expect(got["Body"].read() == body, "GetObject returns the bytes")
    head = s3.head_object(Bucket="boto", Key="dir/one")
    expect(head["ContentType"] == "text/x-boto" and head["Metadata"] == {"color": "blue"}, "HeadObject: %r" % head)
    ranged = s3.get_object(Bucket="boto", Key="dir/one", Range="bytes=1000-1999")
    expect(ranged["Body"].read() == body[1000:2000] and ranged["ContentRange"] == "bytes 1000-1999/70000", "a Range")
    s3.put_object(Bucket="boto", Key="dir/sub/two", Body=b"2", ChecksumAlgorithm="CRC32")
    s3.put_object(Bucket="boto", Key="top", Body=b"")
    listing = s3.list_objects_v2(Bucket="boto", Prefix="dir/", Delimiter="/")
    expect([o["Key"] for o in listing.get("Contents", [])] == ["dir/one"], "listing: %r" % listing)
    expect([p["Prefix"] for p in listing.get("CommonPrefixes", [])] == ["dir/sub/"], "common prefixes: %r" % listing)
    # Delimited listings page by one item and see each key or common prefix exactly once,
    # also past a key with U+10FFFF right after its common prefix.
    s3.create_bucket(Bucket="pages")
    for name in ["a/1", "a/2", "b", "c/x/y", "d/\U0010ffffx", "d/z", "e"]:
        s3.put_object(Bucket="pages", Key=name, Body=b"p")
    for version in ("list_objects_v2", "list_objects"):
        seen_keys, seen_prefixes = [], []
        for page in s3.get_paginator(version).paginate(Bucket="pages", Delimiter="/", PaginationConfig={"PageSize": 1}):
            seen_keys += [o["Key"] for o in page.get("Contents", [])]
            seen_prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        expect(seen_keys == ["b", "e"] and seen_prefixes == ["a/", "c/", "d/"], "%s pages: %r %r" % (version, seen_keys, seen_prefixes))
    everything = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="pages", PaginationConfig={"PageSize": 2})
                  for o in page.get("Contents", [])]
    expect(len(everything) == 7 and len(set(everything)) == 7, "undelimited pages: %r" % everything)
    owned = s3.list_objects_v2(Bucket="boto", Prefix="dir/", FetchOwner=True)["Contents"][0]
    expect(owned.get("Owner", {}).get("ID") == "flare", "FetchOwner: %r" % owned)
    expect(s3.get_bucket_acl(Bucket="boto")["Grants"][0]["Permission"] == "FULL_CONTROL", "GetBucketAcl")
    expect(s3.get_object_acl(Bucket="boto", Key="dir/one")["Owner"]["ID"] == "flare", "GetObjectAcl")
    expect(code(lambda: s3.get_object_acl(Bucket="boto", Key="nothing")) == "NoSuchKey", "GetObjectAcl of nothing")
    expect(code(lambda: s3.get_object(Bucket="boto", Key="nothing")) == "NoSuchKey", "NoSuchKey")
    expect(code(lambda: s3.list_objects_v2(Bucket="nobucket")) == "NoSuchBucket", "NoSuchBucket")
    expect(code(lambda: s3.put_object(Bucket="boto", Key="bad", Body=b"abc", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")) == "BadDigest", "BadDigest")
    expect(code(lambda: s3.head_object(Bucket="boto", Key="bad")) == "404", "nothing stored for a bad digest")
    # Multipart upload and ranged parallel download.
    big = os.path.join(work, "boto-big")
    with open(big, "wb") as f:
        f.write(os.urandom(12 * 1024 * 1024 + 3))
    transfer = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=4)
    s3.upload_file(big, "boto", "big", Config=transfer)
    expect(s3.head_object(Bucket="boto", Key="big")["ETag"].endswith('-3"'), "a 3-part multipart ETag")
    s3.download_file("boto", "big", big + ".back", Config=transfer)
    expect(open(big, "rb").read() == open(big + ".back", "rb").read(), "upload_file/download_file round trip")
    # Presigned URLs, SigV4 and SigV2.
    for version in ("s3v4", "s3"):
        signer = client(signature_version=version)
        url = signer.generate_presigned_url("get_object", Params={"Bucket": "boto", "Key": "dir/one"}, ExpiresIn=300)
        try:
            fetched = urllib.request.urlopen(url).read()
        except urllib.error.HTTPError as error:
            expect(False, "presigned GET (%s) %s: %d %r" % (version, url, error.code, error.read()[:400]))
        expect(fetched == body, "presigned GET (%s)" % version)
    url = client(signature_version="s3v4").generate_presigned_url("put_object", Params={"Bucket": "boto", "Key": "presigned"}, ExpiresIn=300)
    urllib.request.urlopen(urllib.request.Request(url, data=b"via a presigned PUT", method="PUT")).read()
    expect(s3.get_object(Bucket="boto", Key="presigned")["Body"].read() == b"via a presigned PUT", "presigned PUT")
    tampered = url.replace("presigned", "elsewhere")
    try:
        urllib.request.urlopen(urllib.request.Request(tampered, data=b"x", method="PUT")); expect(False, "a tampered presigned URL worked")
    except urllib.error.HTTPError as error:
        expect(error.code == 403, "a tampered presigned URL: %d" % error.code)
    deleted = s3.delete_objects(Bucket="boto", Delete={"Objects": [{"Key": "dir/one"}, {"Key": "top"}, {"Key": "never-was"}]})
    expect(sorted(d["Key"] for d in deleted["Deleted"]) == ["dir/one", "never-was", "top"], "DeleteObjects: %r" % deleted)
    expect(code(lambda: s3.head_object(Bucket="boto", Key="top")) == "404", "deleted by DeleteObjects")
    print("boto3 OK")
    """#

    @Test("boto3: put/get/head/delete, metadata and content type, a range, delimiters, upload_file/download_file (multipart, ranged), presigned GET (SigV4, SigV2) and PUT, a tampered URL, DeleteObjects, error codes",
          arguments: testedEngines)
    func boto3(engine: IOEngineKind) async throws {
        try await Self.withS3Cluster(engine, "s3-boto") { cluster, aws in
            try await Self.runCheck(Self.boto3Script, named: "boto3-check", expecting: "boto3 OK", cluster, aws, extra: [cluster.scratch.files])
        }
    }

    /// aws-chunked bodies built and signed by hand with botocore's signer, sent with and
    /// without an outer HTTP chunked framing: the unsigned-trailer framing SDKs use over HTTPS
    /// (CRC32 in the trailer) and signed chunks; then the same with a wrong trailer checksum and
    /// a wrong chunk signature, each refused with nothing stored.
    static let awsChunkedScript = #"""
    import sys, os, hashlib, hmac, zlib, base64, http.client, urllib.parse
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    endpoint, key, secret = sys.argv[1:4]
    host = urllib.parse.urlparse(endpoint).netloc
    creds = Credentials(key, secret)
    CRLF = b"\r\n"
    def expect(condition, what):
        if not condition:
            print("FAILED: " + what); sys.exit(1)
    def send(method, path, headers, body, outer_chunked):
        connection = http.client.HTTPConnection(host, timeout=60)
        if outer_chunked:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers.items(): connection.putheader(name, value)
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for i in range(0, len(body), 7000):
                piece = body[i:i + 7000]
                connection.send(b"%x" % len(piece) + CRLF + piece + CRLF)
            connection.send(b"0" + CRLF + CRLF)
        else:
            connection.request(method, path, body=body, headers=dict(headers, **{"Content-Length": str(len(body))}))
        response = connection.getresponse()
        return response.status, response.read()
    def signed_headers(method, path, extra):
        request = AWSRequest(method=method, url=endpoint + path, headers=extra)
        SigV4Auth(creds, "s3", "us-east-1").add_auth(request)
        return dict(request.headers.items())
    def plain(method, path):
        headers = signed_headers(method, path, {"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
        return send(method, path, headers, b"", False)
    status, _ = plain("PUT", "/chunky")
    expect(status == 200, "CreateBucket %d" % status)
    data = os.urandom(150000)
    def unsigned_trailer(payload, crc):
        body = b""
        for i in range(0, len(payload), 65536):
            piece = payload[i:i + 65536]
            body += b"%x" % len(piece) + CRLF + piece + CRLF
        return body + b"0" + CRLF + b"x-amz-checksum-crc32:" + crc + CRLF + CRLF
    crc = base64.b64encode((zlib.crc32(data) & 0xffffffff).to_bytes(4, "big"))
    trailer_headers = {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked",
                       "x-amz-trailer": "x-amz-checksum-crc32", "x-amz-decoded-content-length": str(len(data))}
    for outer in (False, True):
        path = "/chunky/trailer-%d" % outer
        status, answer = send("PUT", path, signed_headers("PUT", path, dict(trailer_headers)), unsigned_trailer(data, crc), outer)
        expect(status == 200, "unsigned trailer (outer chunked %s): %d %r" % (outer, status, answer[:300]))
        status, got = plain("GET", path)
        expect(status == 200 and got == data, "unsigned trailer read back (outer chunked %s)" % outer)
    path = "/chunky/bad-trailer"
    status, answer = send("PUT", path, signed_headers("PUT", path, dict(trailer_headers)), unsigned_trailer(data, b"AAAAAA=="), False)
    expect(status == 400 and b"BadDigest" in answer, "a wrong trailer checksum: %d %r" % (status, answer[:300]))
    expect(plain("GET", path)[0] == 404, "a body with a wrong trailer checksum was stored")
    # Signed chunks: the seed is the request's own signature.
    def signed_chunks(payload, tamper):
        path = "/chunky/signed-%d" % tamper
        headers = signed_headers("PUT", path, {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload))})
        amz_date = headers["X-Amz-Date"]
        seed = headers["Authorization"].split("Signature=")[1]
        scope = amz_date[:8] + "/us-east-1/s3/aws4_request"
        k = hmac.new(("AWS4" + secret).encode(), amz_date[:8].encode(), hashlib.sha256).digest()
        for part in ("us-east-1", "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        previous, body = seed, b""
        pieces = [payload[i:i + 65536] for i in range(0, len(payload), 65536)] + [b""]
        for index, piece in enumerate(pieces):
            to_sign = chr(10).join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, hashlib.sha256(b"").hexdigest(),
                                    hashlib.sha256(piece).hexdigest()])
            signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
            if tamper and index == 1: signature = "0" * 64
            body += b"%x;chunk-signature=%s" % (len(piece), signature.encode()) + CRLF + piece + CRLF
            previous = signature
        return path, headers, body
    path, headers, body = signed_chunks(data, False)
    status, answer = send("PUT", path, headers, body, True)
    expect(status == 200, "signed chunks: %d %r" % (status, answer[:300]))
    status, got = plain("GET", path)
    expect(status == 200 and got == data, "signed chunks read back")
    path, headers, body = signed_chunks(data, True)
    status, answer = send("PUT", path, headers, body, False)
    expect(status == 403 and b"SignatureDoesNotMatch" in answer, "a wrong chunk signature: %d %r" % (status, answer[:300]))
    expect(plain("GET", path)[0] == 404, "a body with a wrong chunk signature was stored")
    print("aws-chunked OK")
    """#

    @Test("aws-chunked payloads: unsigned with a CRC32 trailer (with and without outer chunked framing) and signed chunks go in byte for byte; a wrong trailer checksum or chunk signature stores nothing",
          arguments: testedEngines)
    func awsChunked(engine: IOEngineKind) async throws {
        try await Self.withS3Cluster(engine, "s3-chunked") { cluster, aws in
            try await Self.runCheck(Self.awsChunkedScript, named: "aws-chunked-check", expecting: "aws-chunked OK", cluster, aws)
        }
    }

    @Test("aws s3 sync of a tree with awkward names (spaces, unicode, + % & =) both ways, a 100 MiB file through multipart, aws s3 presign + curl, aws s3 rm of one key",
          arguments: testedEngines)
    func awscliSyncAndPresign(engine: IOEngineKind) async throws {
        try await Self.withS3Cluster(engine, "s3-sync") { cluster, aws in
            #expect(try await aws.run(["s3", "mb", "s3://tree"]).status == 0)
            let root = "\(cluster.scratch.files)/sync-tree"
            let names = ["top", "with space/a b.txt", "ünïcødé/€.bin", "sym/a+b%20c&d=e", "deep/er/and/deeper/0", "big"]
            var sizes: [String: Int] = [:]
            for (index, name) in names.enumerated() {
                let path = "\(root)/\(name)"
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                let size = name == "big" ? 100 << 20 : [0, 1, 65535, 65537, 200_003][index % 5]
                try FileManager.default.moveItem(atPath: try await cluster.randomFile("sync-\(index)", size: size), toPath: path)
                sizes[name] = size
            }
            let up = try await aws.run(["s3", "sync", root, "s3://tree/t"])
            #expect(up.status == 0, "\(up)")
            let head = try await aws.run(["s3api", "head-object", "--bucket", "tree", "--key", "t/big"])
            #expect(head.status == 0 && head.stdout.contains("-13\\\""), "100 MiB in 8 MiB parts: \(head)")
            let again = try await aws.run(["s3", "sync", root, "s3://tree/t"])
            #expect(again.status == 0 && !again.stdout.contains("upload:"), "a second sync sent something: \(again)")
            let back = "\(cluster.scratch.files)/sync-back"
            let down = try await aws.run(["s3", "sync", "s3://tree/t", back])
            #expect(down.status == 0, "\(down)")
            for name in names {
                #expect(try await sameBytes("\(root)/\(name)", "\(back)/\(name)", scratch: cluster.scratch.tmp), "\(name)")
            }
            let presigned = try await aws.run(["s3", "presign", "s3://tree/t/ünïcødé/€.bin", "--expires-in", "300"])
            let url = presigned.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(presigned.status == 0 && url.hasPrefix("http"), "\(presigned)")
            let fetched = try await curl([url], scratch: cluster.scratch.tmp, bodyTo: "\(back)/presigned")
            #expect(fetched.status == 200, "\(fetched)")
            #expect(try await sameBytes("\(root)/ünïcødé/€.bin", "\(back)/presigned", scratch: cluster.scratch.tmp))
            #expect(try await aws.run(["s3", "rm", "s3://tree/t/sym/a+b%20c&d=e"]).status == 0)
            let listing = try await aws.run(["s3", "ls", "--recursive", "s3://tree/"])
            #expect(listing.status == 0 && !listing.stdout.contains("a+b%20c&d=e") && listing.stdout.contains("with space/a b.txt"), "\(listing)")
        }
    }

    @Test("refused, nothing stored: a wrong secret, an unknown key, an unsigned request, a body that does not match its SHA-256",
          arguments: testedEngines)
    func refusals(engine: IOEngineKind) async throws {
        try await Self.withS3Cluster(engine, "s3-refuse") { cluster, aws in
            #expect(try await aws.run(["s3", "mb", "s3://box"]).status == 0)
            let file = try await cluster.randomFile("s3-refused", size: 70000)
            var wrongSecret = aws
            wrongSecret.secretKey = "not-the-secret"
            let bad = try await wrongSecret.run(["s3", "cp", file, "s3://box/k"])
            #expect(bad.status != 0 && bad.stderr.contains("SignatureDoesNotMatch"), "\(bad)")
            var unknown = aws
            unknown.accessKey = "AKIANOBODY"
            let stranger = try await unknown.run(["s3", "ls"])
            #expect(stranger.status != 0 && stranger.stderr.contains("InvalidAccessKeyId"), "\(stranger)")
            let anonymous = try await curl(["-T", file, "\(aws.endpoint)/box/k"], scratch: cluster.scratch.tmp)
            #expect(anonymous.status == 403 && anonymous.text.contains("<Code>AccessDenied</Code>"), "\(anonymous)")
            // A body that is not the one signed: sign for one file, send another of the same size.
            let other = try await cluster.randomFile("s3-other", size: 70000)
            let mismatch = try await aws.run(["s3api", "put-object", "--bucket", "box", "--key", "k", "--body", other,
                                              "--content-md5", try await md5Base64(file, cluster)])
            #expect(mismatch.status != 0 && mismatch.stderr.contains("BadDigest"), "\(mismatch)")
            let listing = try await aws.run(["s3api", "list-objects-v2", "--bucket", "box"])
            #expect(listing.status == 0 && !listing.stdout.contains("\"Key\""), "something was stored: \(listing)")
            // The native API's bucket stays, whatever S3 is asked.
            let native = try await aws.run(["s3api", "delete-bucket", "--bucket", "flare"])
            #expect(native.status != 0 && native.stderr.contains("BucketNotEmpty"), "\(native)")
        }
    }
}

private func md5Hex(_ file: String, _ cluster: Cluster) async throws -> String {
    let run = try await runProgram("/usr/bin/md5sum", [file], in: cluster.scratch.tmp)
    return String(run.stdout.prefix(32))
}

private func md5Base64(_ file: String, _ cluster: Cluster) async throws -> String {
    let hex = try await md5Hex(file, cluster)
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        bytes.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return Data(bytes).base64EncodedString()
}

/// S3's ETag of a file uploaded in `partSize` parts: the MD5 of the parts' MD5s, `-<count>`.
private func multipartETag(_ file: String, partSize: Int, _ cluster: Cluster) async throws -> String {
    let script = """
    import hashlib, sys
    data = open(sys.argv[1], "rb").read(); size = int(sys.argv[2])
    parts = [data[i:i + size] for i in range(0, len(data), size)]
    print(hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-" + str(len(parts)))
    """
    let run = try await runProgram("/usr/bin/python3", ["-c", script, file, "\(partSize)"], in: cluster.scratch.tmp)
    return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}
