import Foundation

/// The S3 clients flare-bench drives, unchanged, as their users run them.
public enum S3Client: String, Codable, Sendable, CaseIterable {
    /// boto3's `upload_file` / `download_file` (s3transfer: multipart up, ranged GETs down).
    case boto3
    /// `aws s3 cp`, one process per object.
    case awscli
    /// curl on a presigned URL (SigV4 in the query, `UNSIGNED-PAYLOAD`): the native rows'
    /// own client, which hashes nothing, so S3 ÷ native is the server's S3 cost alone.
    case curl
}

/// The Python program that runs the S3 clients for flare-bench. It is written to the run's
/// temporary directory and started with `python3` for each workload; it times the transfer
/// alone (not Python's start-up nor boto3's import) and counts the client's CPU around it,
/// then prints one JSON line (``S3DriverOutput``).
///
/// `setup` creates the bucket and reports the client versions; `presign` prints a SigV4
/// presigned URL for each key (`--method put` or `get`, valid for an hour); `put` uploads each
/// `LOCAL=KEY` pair, `get` downloads each key to its local path, all pairs at once (one
/// thread, or one `aws` process, per object). boto3 shares one client, whose connection pool
/// holds every part in flight.
enum S3Driver {
    static let script = #"""
    import argparse, json, os, resource, subprocess, sys, time
    from concurrent.futures import ThreadPoolExecutor

    def cpu_seconds(who):
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    def keys_from(path):
        for line in open(path):
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                return fields[0], fields[1]
        sys.exit("no key in " + path)

    def boto3_client(args, access, secret, connections):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=args.endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
                            region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                          max_pool_connections=max(10, connections)))

    def run_boto3(args, access, secret, pairs):
        from boto3.s3.transfer import TransferConfig
        s3 = boto3_client(args, access, secret, args.threads * len(pairs))
        transfer = TransferConfig(multipart_threshold=args.part_bytes, multipart_chunksize=args.part_bytes,
                                  max_concurrency=args.threads)
        facts = {}
        def note(request=None, **_):
            # What the first upload request carried: which body hashes the server computes.
            if request is not None and not facts:
                headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
                sha = headers.get("x-amz-content-sha256", "")
                facts.update({"x-amz-content-sha256": "hex" if len(sha) == 64 else sha,
                              "checksums": sorted(k for k in headers if k.startswith("x-amz-checksum-")),
                              "content-md5": "content-md5" in headers, "expect": headers.get("expect", "")})
        for operation in ("UploadPart", "PutObject"):
            s3.meta.events.register("before-send.s3." + operation, note)
        def one(pair):
            local, key = pair
            if args.op == "put":
                s3.upload_file(local, args.bucket, key, Config=transfer)
            else:
                s3.download_file(args.bucket, key, local, Config=transfer)
        cpu, started = cpu_seconds(resource.RUSAGE_SELF), time.monotonic()
        with ThreadPoolExecutor(len(pairs)) as pool:
            list(pool.map(one, pairs))
        return time.monotonic() - started, cpu_seconds(resource.RUSAGE_SELF) - cpu, facts

    def aws_environment(args, access, secret):
        config = os.path.join(args.work, "aws-config")
        with open(config, "w") as f:
            f.write("[default]\ns3 =\n  multipart_threshold = %d\n  multipart_chunksize = %d\n"
                    "  max_concurrent_requests = %d\n  addressing_style = path\n" % (args.part_bytes, args.part_bytes, args.threads))
        return dict(os.environ, AWS_ACCESS_KEY_ID=access, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION="us-east-1",
                    AWS_CONFIG_FILE=config, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_MAX_ATTEMPTS="1")

    def run_awscli(args, access, secret, pairs):
        env = aws_environment(args, access, secret)
        def command(local, key):
            remote = "s3://%s/%s" % (args.bucket, key)
            ends = [local, remote] if args.op == "put" else [remote, local]
            return ["aws", "--endpoint-url", args.endpoint, "s3", "cp", "--only-show-errors"] + ends
        cpu, started = cpu_seconds(resource.RUSAGE_CHILDREN), time.monotonic()
        children = [subprocess.Popen(command(local, key), env=env) for local, key in pairs]
        failed = [child.args for child in children if child.wait() != 0]
        seconds, used = time.monotonic() - started, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu
        if failed:
            sys.exit("failed: " + "; ".join(" ".join(line) for line in failed))
        return seconds, used, {}

    def presign(args, access, secret, keys):
        from botocore.config import Config
        import boto3
        s3 = boto3.client("s3", endpoint_url=args.endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
                          region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
        operation = "put_object" if args.method == "put" else "get_object"
        return [s3.generate_presigned_url(operation, Params={"Bucket": args.bucket, "Key": key}, ExpiresIn=3600) for key in keys]

    def setup(args, access, secret):
        import boto3, botocore
        s3 = boto3_client(args, access, secret, 1)
        try:
            s3.create_bucket(Bucket=args.bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        aws = subprocess.run(["aws", "--version"], capture_output=True, text=True)
        return {"boto3": boto3.__version__, "botocore": botocore.__version__,
                "awscli": (aws.stdout or aws.stderr).strip().split(" ")[0], "python": sys.version.split(" ")[0]}

    parser = argparse.ArgumentParser()
    parser.add_argument("op", choices=["setup", "presign", "put", "get"])
    parser.add_argument("pairs", nargs="*", help="LOCAL=KEY (put, get) or KEY (presign)")
    parser.add_argument("--method", choices=["put", "get"], default="get")
    parser.add_argument("--client", choices=["boto3", "awscli"], default="boto3")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--credentials", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--part-bytes", type=int, default=8 << 20)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--work", required=True)
    args = parser.parse_intermixed_args()
    access, secret = keys_from(args.credentials)
    if args.op == "setup":
        print(json.dumps({"versions": setup(args, access, secret)}))
        sys.exit(0)
    if args.op == "presign":
        print(json.dumps({"urls": presign(args, access, secret, args.pairs)}))
        sys.exit(0)
    pairs = [pair.split("=", 1) for pair in args.pairs]
    seconds, used, request = (run_boto3 if args.client == "boto3" else run_awscli)(args, access, secret, pairs)
    moved = sum(os.path.getsize(local) for local, _ in pairs)
    print(json.dumps({"seconds": seconds, "cpu_seconds": used, "bytes": moved, "objects": len(pairs), "request": request}))
    """#
}

/// The JSON line the driver prints for a transfer or a set-up.
public struct S3DriverOutput: Decodable, Sendable, Equatable {
    /// The transfer's wall time, from its first request to its last answer.
    public var seconds: Double?
    /// The client's CPU (user + system) meanwhile.
    public var cpuSeconds: Double?
    public var bytes: Int?
    public var objects: Int?
    /// What boto3's first upload request carried (header names to what was seen).
    public var request: [String: RequestFact]?
    /// Client versions (`setup`).
    public var versions: [String: String]?
    /// Presigned URLs, one per key (`presign`).
    public var urls: [String]?

    enum CodingKeys: String, CodingKey {
        case seconds, bytes, objects, request, versions, urls
        case cpuSeconds = "cpu_seconds"
    }

    /// A request header's value, a flag or a list of header names.
    public enum RequestFact: Decodable, Sendable, Equatable, CustomStringConvertible {
        case text(String)
        case flag(Bool)
        case names([String])

        public init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                self = .flag(flag)
            } else if let names = try? container.decode([String].self) {
                self = .names(names)
            } else {
                self = .text(try container.decode(String.self))
            }
        }

        public var description: String {
            switch self {
            case .text(let text): text.isEmpty ? "none" : text
            case .flag(let flag): flag ? "yes" : "no"
            case .names(let names): names.isEmpty ? "none" : names.joined(separator: ", ")
            }
        }
    }

    /// The last line of the driver's output that parses (Python may warn on lines before it).
    public static func parse(_ output: String) throws -> S3DriverOutput {
        for line in output.split(separator: "\n").reversed() where line.hasPrefix("{") {
            if let parsed = try? JSONDecoder().decode(S3DriverOutput.self, from: Data(line.utf8)) { return parsed }
        }
        throw BenchError("the S3 driver printed no result: \(output.suffix(400))")
    }

    /// `x-amz-content-sha256 hex, x-amz-checksum-crc32, Expect 100-continue`: which hashes of
    /// the body the server computes besides its MD5, from boto3's first upload request.
    public var requestSummary: String? {
        guard let request, !request.isEmpty else { return nil }
        var parts: [String] = []
        if let sha = request["x-amz-content-sha256"] { parts.append("x-amz-content-sha256 \(sha)") }
        if let checksums = request["checksums"] { parts.append("checksum headers: \(checksums)") }
        if let md5 = request["content-md5"] { parts.append("Content-MD5: \(md5)") }
        if let expect = request["expect"] { parts.append("Expect: \(expect)") }
        return parts.joined(separator: "; ")
    }
}
