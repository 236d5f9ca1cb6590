import FlareCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// S3 through the clients people run, beside the native API in the same run: boto3's
/// `upload_file`/`download_file` (multipart, `partBytes` parts, `threads` at once) of one
/// large object and of several at once, `aws s3 cp` of the large one, and curl on presigned
/// URLs of it, the native rows' client (rows named by ``S3RowName``). Every download lands in a file that is checked against what was
/// uploaded (CRC32C, byte count) and then removed: a client or server that moves wrong
/// bytes fails its row. Each row carries the CPU of the client, the api and the data nodes.
///
/// The uploads come from files made once per run and synced (their write-back cannot land
/// in a measurement); the downloads go to a memory file system when it has room, so the
/// client's own disk is not what is measured.
public final class S3Workload: @unchecked Sendable {
    public struct Options: Sendable {
        /// The single large object (the native `put-curl-<size>` moves the same size).
        public var objectBytes = 1 << 30
        /// Objects moved at once in the many-object rows (0: none), and their size.
        public var manyObjects = 16
        public var manyObjectBytes = 64 << 20
        /// boto3's and awscli's multipart threshold and part size.
        public var partBytes = 8 << 20
        /// boto3's `max_concurrency`, awscli's `max_concurrent_requests`, per object.
        public var threads = 10
        public var bucket = "bench"
        /// After the rounds, `perf record -g` of the api during one more native and one S3
        /// PUT of the large object (outside the measured rounds: perf costs the api time).
        public var profile = false

        public init() {}

        /// `16x64MiB`.
        public var manyShape: String {
            WorkloadSpec(clients: manyObjects, objectBytes: manyObjectBytes, objectsPerClient: 1).label
        }
    }

    struct Source {
        var path: String
        var bytes: Int
        var crc: UInt32
    }

    public let options: Options
    /// The script, awscli's config and the upload files.
    let root: String
    /// Where downloads land (a temporary directory on /dev/shm when it has room).
    public let downloads: String
    let script: String
    let large: Source
    let many: [Source]
    /// The disk under test, whose counters each row records.
    let disk: BlockDevice?
    let progress = ProgressReporter()

    /// Makes the upload files and writes the driver; throws when python3 with boto3, or
    /// awscli, is missing (an S3 run was asked for: no silent skip).
    public init(options: Options, workDirectory: String) throws {
        if let reason = Self.unavailableReason() { throw BenchError(reason) }
        self.options = options
        disk = BlockDevice(containing: workDirectory)
        root = try makeTemporaryDirectory(in: workDirectory, prefix: "flare-bench-s3-")
        let largest = max(options.objectBytes, options.manyObjects * options.manyObjectBytes)
        downloads = try makeTemporaryDirectory(in: Self.memoryDirectory(room: 2 * largest) ?? root, prefix: "flare-bench-s3-get-")
        script = "\(root)/s3-driver.py"
        try S3Driver.script.write(toFile: script, atomically: true, encoding: .utf8)
        progress.begin("S3: making the upload files (1 × \(ByteSize.format(options.objectBytes)), \(options.manyObjects) × \(ByteSize.format(options.manyObjectBytes)))")
        let directory = root
        large = try Self.makeSource(at: "\(directory)/upload-large", bytes: options.objectBytes)
        many = try (0..<options.manyObjects).map { try Self.makeSource(at: "\(directory)/upload-\($0)", bytes: options.manyObjectBytes) }
        progress.finish("S3 upload files in \(root), downloads to \(downloads)")
    }

    /// Removes the upload files, the driver and any download left.
    public func remove() {
        try? FileManager.default.removeItem(atPath: downloads)
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Why the S3 rows cannot run here, or `nil`.
    public static func unavailableReason() -> String? {
        guard let python = which("python3") else { return "python3 is not installed" }
        guard (try? runCommand(python, ["-c", "import boto3"], allowFailure: true))?.status == 0 else {
            return "boto3 is not installed for \(python) (python3 -m pip install boto3)"
        }
        guard which("aws") != nil else { return "awscli is not installed (make deps installs it)" }
        return nil
    }

    /// Creates the bucket on `endpoint` and returns the clients' versions.
    public func setUp(endpoint: String, credentials: String) throws -> [String: String] {
        let output = try driver(["setup"], endpoint: endpoint, credentials: credentials)
        guard output.status == 0 else { throw BenchError("S3 set-up on \(endpoint) failed: \(output.text.suffix(600))") }
        return try S3DriverOutput.parse(output.text).versions ?? [:]
    }

    /// One round's S3 rows against `endpoint`, with the api's and data nodes' CPU from
    /// `meter`. Keys carry the round.
    public func measure(endpoint: String, credentials: String, round: Int, meter: CPUMeter?, label: String) throws -> (rows: [WorkloadResult], request: String?) {
        let size = ByteSize.format(options.objectBytes).replacingOccurrences(of: " ", with: "")
        var rows: [WorkloadResult] = []
        var request: String?
        for client in S3Client.allCases {
            let key = "s3/\(client.rawValue)-\(size)-r\(round)"
            for operation in ["put", "get"] {
                let name = S3RowName(operation: operation, client: client, shape: size)
                if client == .curl {
                    rows.append(try presignedCurl(name, key: key, endpoint: endpoint, credentials: credentials, meter: meter, label: label))
                    continue
                }
                let (row, output) = try transfer(name, [large], keys: [key], endpoint: endpoint, credentials: credentials, meter: meter, label: label)
                if request == nil { request = output?.requestSummary }
                rows.append(row)
            }
        }
        if options.manyObjects > 0 {
            let keys = many.indices.map { "s3/boto3-\(options.manyShape)-r\(round)/\($0)" }
            for operation in ["put", "get"] {
                let name = S3RowName(operation: operation, client: .boto3, shape: options.manyShape)
                rows.append(try transfer(name, many, keys: keys, endpoint: endpoint, credentials: credentials, meter: meter, label: label).row)
            }
        }
        return (rows, request)
    }

    /// Each client's GET of the large object from nginx, which serves it from the page cache
    /// with `sendfile` at almost no CPU: as close to a free S3 server as this machine has, so
    /// the client's own ceiling (`nginx-s3-get-<client>-<size>`). The object is put there
    /// with curl first (not timed). A client that fails against nginx is a note, not a
    /// failed run; wrong bytes from it are.
    public func clientCeiling(nginxPort: UInt16, round: Int) throws -> [BaselineResult] {
        let size = ByteSize.format(options.objectBytes).replacingOccurrences(of: " ", with: "")
        let endpoint = "http://127.0.0.1:\(nginxPort)"
        let key = "s3/large-r\(round)"
        let stored = try CurlWorkload.put(file: large.path, bytes: large.bytes, url: "\(endpoint)/\(options.bucket)/\(key)", name: "nginx-put")
        guard stored.verified else { throw BenchError("storing the S3 object on nginx failed") }
        var baselines: [BaselineResult] = []
        // curl's own ceiling is nginx's native `get-curl` row already.
        for client in S3Client.allCases where client != .curl {
            let name = S3RowName(operation: "get", client: client, shape: size)
            let (row, output) = try transfer(name, [large], keys: [key], endpoint: endpoint, credentials: nil, meter: nil, label: "nginx",
                                             reportedName: name.nginxName)
            if output != nil && !row.verified {
                throw BenchError("\(client.rawValue) read wrong bytes from nginx: the comparison would be meaningless")
            }
            guard row.verified else {
                print("note: \(client.rawValue) could not read from nginx; no client-ceiling figure for it")
                continue
            }
            var baseline = BaselineResult(name: name.nginxName, figure: row.figure, unit: row.unit)
            baseline.clientCPUSeconds = row.cpu?.clientSeconds
            baselines.append(baseline)
        }
        return baselines
    }

    /// `perf record -g` of the api during one more native `curl -T` and one boto3 PUT of the
    /// large object (after the measured rounds).
    public func profilePuts(apiURL: String, endpoint: String, credentials: String, meter: CPUMeter, directory: String) throws -> [APIProfile] {
        let size = ByteSize.format(options.objectBytes).replacingOccurrences(of: " ", with: "")
        var profiles: [APIProfile] = []
        for (index, workload) in ["put-curl-\(size)", "s3-put-boto3-\(size)"].enumerated() {
            progress.begin("perf record -g of the api during \(workload)")
            let (row, report) = try APIProfiler.record(pid: meter.apiPID, file: "\(directory)/perf-\(workload).data") { () throws -> WorkloadResult in
                let start = meter.snapshot()
                var row: WorkloadResult
                if index == 0 {
                    row = try CurlWorkload.put(file: large.path, bytes: large.bytes, url: "\(apiURL)/object/profile/native", name: workload)
                } else {
                    row = try transfer(S3RowName(parsing: workload)!, [large], keys: ["profile/s3"], endpoint: endpoint, credentials: credentials,
                                       meter: nil, label: "profile").row
                }
                row.cpu = meter.use(since: start, clientSeconds: row.cpu?.clientSeconds)
                return row
            }
            guard row.verified else { throw BenchError("\(workload) failed while profiled") }
            let apiPerGiB = CPUUse.perGiB(row.cpu?.apiSeconds ?? 0, bytes: row.bytes)
            let profile = APIProfile.parse(report: report, workload: workload, megabytesPerSecond: row.figure, apiSecondsPerGiB: apiPerGiB)
            try report.write(toFile: "\(directory)/perf-\(workload).txt", atomically: true, encoding: .utf8)
            progress.finish("\(workload) under perf: \(ReportTable.formatFigure(row.figure)) MB/s, api " +
                            APIProfile.categories.map { "\($0) \(String(format: "%.1f", profile.shares[$0] ?? 0))%" }.joined(separator: ", "))
            profiles.append(profile)
        }
        return profiles
    }

    // MARK: - One row

    /// curl on a presigned URL for `key` (made first, not timed): `curl -T` of the large
    /// object up, or its GET checksummed as it arrives, as the native curl rows do.
    private func presignedCurl(_ name: S3RowName, key: String, endpoint: String, credentials: String, meter: CPUMeter?,
                               label: String) throws -> WorkloadResult {
        let signed = try driver(["presign", "--method", name.operation, key], endpoint: endpoint, credentials: credentials)
        guard signed.status == 0, let url = try S3DriverOutput.parse(signed.text).urls?.first else {
            throw BenchError("presigning \(key) failed: \(signed.text.suffix(400))")
        }
        progress.begin("\(label): \(name.name) (curl on a presigned URL, \(ByteSize.format(large.bytes)))")
        let start = meter?.snapshot()
        let diskBefore = disk?.snapshot()
        var row = name.operation == "put"
            ? try CurlWorkload.put(file: large.path, bytes: large.bytes, url: url, name: name.name)
            : try CurlWorkload.get(url: url, bytes: large.bytes, expected: large.crc, name: name.name)
        row.device = disk?.activity(since: diskBefore)
        if let meter, let start { row.cpu = meter.use(since: start) }
        progress.finish("\(label) \(name.name): \(ReportTable.formatFigure(row.figure)) MB/s\(row.verified ? "" : " — FAILED OR WRONG BYTES")")
        return row
    }

    /// Runs the driver for `name` over `sources` and `keys`; a GET's files are checked and
    /// removed. `credentials` nil: an endpoint that ignores signatures (nginx), signed with a
    /// throwaway key.
    private func transfer(_ name: S3RowName, _ sources: [Source], keys: [String], endpoint: String, credentials: String?,
                          meter: CPUMeter?, label: String, reportedName: String? = nil) throws -> (row: WorkloadResult, output: S3DriverOutput?) {
        let rowName = reportedName ?? name.name
        let locals = name.operation == "put" ? sources.map(\.path) : sources.indices.map { "\(downloads)/\($0)" }
        for path in locals where name.operation == "get" { unlink(path) }
        var keyFile = credentials
        if keyFile == nil {
            keyFile = "\(root)/throwaway-key"
            try "FLAREBENCHNGINX0 not-checked-by-nginx\n".write(toFile: keyFile!, atomically: true, encoding: .utf8)
        }
        progress.begin("\(label): \(rowName) (\(name.client.rawValue) \(name.operation == "put" ? "upload" : "download"), " +
                       "\(sources.count) × \(ByteSize.format(sources[0].bytes)))")
        let start = meter?.snapshot()
        let diskBefore = disk?.snapshot()
        let pairs = zip(locals, keys).map { "\($0)=\($1)" }
        let run = try driver([name.operation, "--client", name.client.rawValue] + pairs, endpoint: endpoint, credentials: keyFile!)
        let device = disk?.activity(since: diskBefore)
        let output = run.status == 0 ? try? S3DriverOutput.parse(run.text) : nil
        var verified = output != nil
        var bytes = output?.bytes ?? 0
        if name.operation == "get" {
            let checked = try zip(locals, sources).map { try Self.matches($0, $1) }
            verified = verified && checked.allSatisfy { $0 }
            if !verified { bytes = 0 }
            for path in locals { unlink(path) }
        }
        let seconds = output?.seconds ?? 0
        var row = WorkloadResult(name: rowName, operation: name.operation, clients: sources.count, objectBytes: sources[0].bytes,
                                 objects: verified ? sources.count : 0, bytes: verified ? bytes : 0, seconds: seconds,
                                 latencyMs: .single(seconds), errors: verified ? 0 : max(1, sources.count), verified: verified, device: device)
        if let meter, let start {
            // Over the transfer alone: the driver's start-up is the client's own business.
            row.cpu = meter.use(since: start, clientSeconds: output?.cpuSeconds)
            row.cpu?.wallSeconds = seconds
        } else if let client = output?.cpuSeconds {
            row.cpu = CPUUse(clientSeconds: client, apiSeconds: 0, dataNodeSeconds: 0, wallSeconds: seconds)
        }
        let cpu = row.cpu.map { String(format: ", client %.2f s CPU per GiB", CPUUse.perGiB($0.clientSeconds, bytes: max(row.bytes, 1))) } ?? ""
        if run.status != 0 {
            progress.finish("\(label) \(rowName): FAILED — \(run.text.suffix(600))")
        } else {
            progress.finish("\(label) \(rowName): \(ReportTable.formatFigure(row.figure)) MB/s\(cpu)\(verified ? "" : " — WRONG BYTES")")
        }
        return (row, output)
    }

    private func driver(_ arguments: [String], endpoint: String, credentials: String) throws -> (status: Int32, text: String) {
        let common = ["--endpoint", endpoint, "--credentials", credentials, "--bucket", options.bucket,
                      "--part-bytes", "\(options.partBytes)", "--threads", "\(options.threads)", "--work", root]
        let output = try runCommand(which("python3") ?? "/usr/bin/python3", [script] + arguments + common, allowFailure: true)
        return (output.status, String(decoding: output.stdout, as: UTF8.self) + output.stderr)
    }

    // MARK: - Files

    /// Whether the file at `path` holds exactly `source`'s bytes.
    static func matches(_ path: String, _ source: Source) throws -> Bool {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 4096)
        defer { block.deallocate() }
        var crc = CRC32C()
        var total = 0
        while true {
            let count = read(fd, block.baseAddress, block.count)
            if count < 0 { throw BenchError("cannot read \(path): errno \(errno)") }
            if count == 0 { break }
            crc.update(UnsafeRawBufferPointer(rebasing: block[0..<count]))
            total += count
        }
        return total == source.bytes && crc.value == source.crc
    }

    /// A file of pseudo-random bytes (each unique to its path), synced so that its
    /// write-back is over before anything is measured.
    static func makeSource(at path: String, bytes: Int) throws -> Source {
        let crc = try CurlWorkload.makeFile(at: path, bytes: bytes)
        let fd = open(path, O_RDONLY)
        guard fd >= 0, fsync(fd) == 0 else { throw BenchError("cannot sync \(path)") }
        close(fd)
        return Source(path: path, bytes: bytes, crc: crc)
    }

    /// /dev/shm when it has `room` bytes free.
    static func memoryDirectory(room: Int) -> String? {
        var stats = statvfs()
        guard statvfs("/dev/shm", &stats) == 0 else { return nil }
        return Int(stats.f_bavail) * Int(stats.f_frsize) >= room ? "/dev/shm" : nil
    }
}
