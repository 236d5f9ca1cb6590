import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Server-side copies through real clients: CopyObject (boto3's copy_object, awscli's
/// `s3 cp`/`s3 sync` between buckets) and UploadPartCopy (boto3's managed copy, explicit
/// ranges), byte for byte, with their ETags, metadata directives and conditions; a source
/// that cannot be read stores nothing.
@Suite("S3 server-side copies")
struct S3CopyTests {
    static let script = S3Tests.pythonPrelude + #"""
    def read(bucket, name):
        return s3.get_object(Bucket=bucket, Key=name)["Body"].read()
    md5 = lambda data: '"%s"' % hashlib.md5(data).hexdigest()
    s3.create_bucket(Bucket="src"); s3.create_bucket(Bucket="dst")
    chunk = 65536
    for size in (0, 1, chunk - 1, chunk, chunk + 1, 5 * chunk + 7):
        data = os.urandom(size)
        name = "f%d" % size
        s3.put_object(Bucket="src", Key=name, Body=data, ContentType="text/x-src", Metadata={"color": "red"}, CacheControl="max-age=5")
        copied = s3.copy_object(Bucket="dst", Key=name, CopySource={"Bucket": "src", "Key": name})
        expect(copied["CopyObjectResult"]["ETag"] == md5(data), "copy of %d bytes: ETag %r" % (size, copied))
        expect(read("dst", name) == data, "copy of %d bytes reads back" % size)
        head = s3.head_object(Bucket="dst", Key=name)
        expect(head["ContentType"] == "text/x-src" and head["Metadata"] == {"color": "red"} and head.get("CacheControl") == "max-age=5",
               "metadata copied: %r" % head)
    data = read("src", "f65537")
    replaced = s3.copy_object(Bucket="dst", Key="replaced", CopySource="src/f65537", MetadataDirective="REPLACE",
                              ContentType="text/x-new", Metadata={"shape": "round"})
    head = s3.head_object(Bucket="dst", Key="replaced")
    expect(head["ContentType"] == "text/x-new" and head["Metadata"] == {"shape": "round"} and "CacheControl" not in head, "REPLACE: %r" % head)
    expect(read("dst", "replaced") == data, "REPLACE copies the bytes")
    # Onto itself: refused unless the metadata changes.
    expect(code(lambda: s3.copy_object(Bucket="src", Key="f1", CopySource="src/f1")) == "InvalidRequest", "a copy onto itself")
    one = read("src", "f1")
    s3.copy_object(Bucket="src", Key="f1", CopySource="src/f1", MetadataDirective="REPLACE", ContentType="text/x-self")
    expect(read("src", "f1") == one and s3.head_object(Bucket="src", Key="f1")["ContentType"] == "text/x-self", "a copy onto itself with REPLACE")
    # Awkward key names on both sides.
    odd = "dir/a b+c%&€?=x"
    s3.put_object(Bucket="src", Key=odd, Body=data)
    s3.copy_object(Bucket="dst", Key=odd + "-copy", CopySource={"Bucket": "src", "Key": odd})
    expect(read("dst", odd + "-copy") == data, "an awkward key copied")
    # Conditions on the source.
    etag = s3.head_object(Bucket="src", Key="f65537")["ETag"]
    expect(code(lambda: s3.copy_object(Bucket="dst", Key="c1", CopySource="src/f65537", CopySourceIfMatch='"0000"')) == "PreconditionFailed", "If-Match")
    expect(code(lambda: s3.copy_object(Bucket="dst", Key="c2", CopySource="src/f65537", CopySourceIfNoneMatch=etag)) == "PreconditionFailed", "If-None-Match")
    import datetime
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    expect(code(lambda: s3.copy_object(Bucket="dst", Key="c3", CopySource="src/f65537", CopySourceIfModifiedSince=future)) == "PreconditionFailed", "If-Modified-Since")
    s3.copy_object(Bucket="dst", Key="c4", CopySource="src/f65537", CopySourceIfMatch=etag, CopySourceIfUnmodifiedSince=future)
    expect(read("dst", "c4") == data, "conditions that hold")
    for failed in ("c1", "c2", "c3"):
        expect(code(lambda: s3.head_object(Bucket="dst", Key=failed)) == "404", "a refused copy stored %s" % failed)
    expect(code(lambda: s3.copy_object(Bucket="dst", Key="x", CopySource="src/nothing")) == "NoSuchKey", "NoSuchKey source")
    expect(code(lambda: s3.copy_object(Bucket="dst", Key="x", CopySource="nobucket/f1")) == "NoSuchBucket", "NoSuchBucket source")
    expect(code(lambda: s3.copy_object(Bucket="nobucket", Key="x", CopySource="src/f1")) == "NoSuchBucket", "NoSuchBucket target")
    # A multipart source: the copy is one object, its ETag the MD5 of the bytes.
    big = os.path.join(work, "copy-big")
    with open(big, "wb") as f:
        f.write(os.urandom(12 * 1024 * 1024 + 3))
    bigdata = open(big, "rb").read()
    transfer = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=4)
    s3.upload_file(big, "src", "big", Config=transfer)
    expect(s3.head_object(Bucket="src", Key="big")["ETag"].endswith('-3"'), "a multipart source")
    copied = s3.copy_object(Bucket="dst", Key="big-single", CopySource="src/big")
    expect(copied["CopyObjectResult"]["ETag"] == md5(bigdata), "copy of a multipart object: %r" % copied)
    expect(read("dst", "big-single") == bigdata, "copy of a multipart object reads back")
    # UploadPartCopy with ranges that cut chunks, and a whole small object as the last part.
    upload = s3.create_multipart_upload(Bucket="dst", Key="assembled")["UploadId"]
    cut = 5 * 1024 * 1024 + 12345
    ranges = [(1, "bytes=0-%d" % (cut - 1), bigdata[:cut]), (2, "bytes=%d-%d" % (cut, len(bigdata) - 1), bigdata[cut:])]
    parts = []
    for number, byte_range, expected in ranges:
        answer = s3.upload_part_copy(Bucket="dst", Key="assembled", UploadId=upload, PartNumber=number,
                                     CopySource="src/big", CopySourceRange=byte_range)
        expect(answer["CopyPartResult"]["ETag"] == md5(expected), "part %d ETag: %r" % (number, answer))
        parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
    answer = s3.upload_part_copy(Bucket="dst", Key="assembled", UploadId=upload, PartNumber=3, CopySource="src/f65537")
    parts.append({"PartNumber": 3, "ETag": answer["CopyPartResult"]["ETag"]})
    expect(code(lambda: s3.upload_part_copy(Bucket="dst", Key="assembled", UploadId=upload, PartNumber=4, CopySource="src/big",
                                            CopySourceRange="bytes=0-%d" % len(bigdata))) == "InvalidArgument", "a range past the source")
    expect(code(lambda: s3.upload_part_copy(Bucket="dst", Key="assembled", UploadId="0" * 32, PartNumber=1,
                                            CopySource="src/big")) == "NoSuchUpload", "UploadPartCopy into no upload")
    s3.complete_multipart_upload(Bucket="dst", Key="assembled", UploadId=upload, MultipartUpload={"Parts": parts})
    expect(read("dst", "assembled") == bigdata + data, "parts copied by range assemble byte for byte")
    # boto3's managed copy: UploadPartCopy in parallel for a source over the threshold.
    s3.copy({"Bucket": "src", "Key": "big"}, "dst", "managed", Config=transfer)
    expect(s3.head_object(Bucket="dst", Key="managed")["ETag"].endswith('-3"'), "managed copy went multipart")
    s3.download_file("dst", "managed", big + ".back", Config=transfer)
    expect(open(big + ".back", "rb").read() == bigdata, "managed copy reads back")
    print("copies OK")
    """#

    @Test("boto3: CopyObject of 0 B…many chunks byte for byte with MD5 ETags, COPY and REPLACE metadata, onto itself, awkward keys, conditions, missing sources; UploadPartCopy by ranges; boto3's managed multipart copy",
          arguments: testedEngines)
    func boto3Copies(engine: IOEngineKind) async throws {
        try await S3Tests.withS3Cluster(engine, "s3-copy") { cluster, aws in
            try await S3Tests.runCheck(Self.script, named: "copy-check", expecting: "copies OK", cluster, aws, extra: [cluster.scratch.files])
        }
    }

    @Test("awscli: s3 cp and s3 sync between buckets copy server-side, byte for byte; a native-API object copied gets an MD5 ETag",
          arguments: testedEngines)
    func awscliCopies(engine: IOEngineKind) async throws {
        try await S3Tests.withS3Cluster(engine, "s3-copy-cli") { cluster, aws in
            #expect(try await aws.run(["s3", "mb", "s3://one"]).status == 0)
            #expect(try await aws.run(["s3", "mb", "s3://two"]).status == 0)
            var files: [String: String] = [:]
            for size in [0, 1, 65535, 65536, 65537, 300_001] {
                let file = try await cluster.randomFile("cli-\(size)", size: size)
                files["tree/f\(size)"] = file
                #expect(try await aws.run(["s3", "cp", file, "s3://one/tree/f\(size)"]).status == 0)
            }
            let single = try await aws.run(["s3", "cp", "s3://one/tree/f65537", "s3://two/single"])
            #expect(single.status == 0 && single.stdout.contains("copy:"), "\(single)")
            let sync = try await aws.run(["s3", "sync", "s3://one/tree", "s3://two/synced"])
            #expect(sync.status == 0, "\(sync)")
            for (name, file) in files {
                let back = file + ".back"
                let get = try await aws.run(["s3", "cp", "s3://two/synced/\(name.dropFirst("tree/".count))", back])
                #expect(get.status == 0, "\(get)")
                #expect(try await sameBytes(file, back, scratch: cluster.scratch.tmp), "\(name)")
            }
            let back = files["tree/f65537"]! + ".single"
            #expect(try await aws.run(["s3", "cp", "s3://two/single", back]).status == 0)
            #expect(try await sameBytes(files["tree/f65537"]!, back, scratch: cluster.scratch.tmp))
            // An object PUT through the native API has no MD5; its copy gets one.
            let native = try await cluster.randomFile("native", size: 200_000)
            #expect(try await cluster.put("native", file: native).status == 201)
            let copied = try await aws.run(["s3api", "copy-object", "--bucket", "two", "--key", "from-native", "--copy-source", "flare/native"])
            let md5 = try await runProgram("/usr/bin/md5sum", [native], in: cluster.scratch.tmp).stdout.prefix(32)
            #expect(copied.status == 0 && copied.stdout.contains(String(md5)), "\(copied)")
        }
    }

    @Test("a copy whose source chunk is corrupt on every replica answers 503 and stores nothing", arguments: testedEngines)
    func unreadableSource(engine: IOEngineKind) async throws {
        try await S3Tests.withS3Cluster(engine, "s3-copy-bad") { cluster, aws in
            #expect(try await aws.run(["s3", "mb", "s3://dst"]).status == 0)
            let file = try await cluster.randomFile("bad-source", size: 4 * 65536 + 5)
            #expect(try await cluster.put("bad-source", file: file).status == 201)
            let chunks = try await cluster.manifestChunks("bad-source")
            let victim = chunks[2]
            let paths = (1...cluster.dataNodes.count).map { "\(cluster.scratch.path)/datanode-\($0)/chunks/\(victim.id.prefix(2))/\(victim.id)" }
            let damaged = paths.filter { FileManager.default.fileExists(atPath: $0) }
            #expect(damaged.count == victim.replicas.count, "chunk \(victim.id): \(damaged.count) files for \(victim.replicas.count) replicas")
            for path in damaged {
                let handle = try #require(FileHandle(forUpdatingAtPath: path))
                try handle.seek(toOffset: 200)
                let byte = try #require(try handle.read(upToCount: 1))
                try handle.seek(toOffset: 200)
                try handle.write(contentsOf: Data([byte[0] ^ 0x01]))
                try handle.close()
            }
            let copy = try await aws.run(["s3api", "copy-object", "--bucket", "dst", "--key", "copied", "--copy-source", "flare/bad-source"])
            #expect(copy.status != 0 && copy.stderr.contains("ServiceUnavailable"), "\(copy)")
            let listing = try await aws.run(["s3api", "list-objects-v2", "--bucket", "dst"])
            #expect(listing.status == 0 && !listing.stdout.contains("copied"), "a failed copy was stored: \(listing)")
        }
    }
}
