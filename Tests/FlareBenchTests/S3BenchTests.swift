@testable import FlareBench
import Foundation
import Testing

@Suite("flare-bench S3 rows: names, ratios, the driver's output, CPU and perf parsing, the report")
struct S3BenchTests {
    @Test("S3 row names parse, and name the native workload of their shape")
    func rowNames() throws {
        let single = try #require(S3RowName(parsing: "s3-put-boto3-1GiB"))
        #expect(single.operation == "put" && single.client == .boto3 && single.shape == "1GiB" && !single.isMany)
        #expect(single.nativeName == "put-curl-1GiB" && single.goal == 0.85 && single.nginxName == "nginx-s3-put-boto3-1GiB")
        let many = try #require(S3RowName(parsing: "s3-get-boto3-16x64MiB"))
        #expect(many.isMany && many.nativeName == "get-16x64MiB" && many.goal == 0.95)
        #expect(S3RowName(parsing: "s3-get-awscli-256MiB")?.nativeName == "get-curl-256MiB")
        #expect(S3RowName(parsing: "s3-put-curl-1GiB")?.client == .curl && S3RowName(parsing: "s3-put-curl-1GiB")?.nativeName == "put-curl-1GiB")
        #expect(S3RowName(operation: "get", client: .awscli, shape: "1GiB").name == "s3-get-awscli-1GiB")
        for name in ["put-curl-1GiB", "s3-put-boto3", "s3-head-boto3-1GiB", "s3-put-rclone-1GiB", "s3-put-boto3-1GiB-r2", "s3-put-boto3-"] {
            #expect(S3RowName(parsing: name) == nil, "\(name)")
        }
    }

    @Test("an S3 row is judged against the native row of its shape and its client from nginx, not the machine's bounds")
    func ratios() throws {
        var workloads = [
            workload("put-curl-1GiB", "put", clients: 1, bytes: 1 << 30, figure: 600),
            workload("get-curl-1GiB", "get", clients: 1, bytes: 1 << 30, figure: 1000),
            workload("put-16x64MiB", "put", clients: 16, bytes: 64 << 20, figure: 500),
            workload("s3-put-boto3-1GiB", "put", clients: 1, bytes: 1 << 30, figure: 300),
            workload("s3-get-boto3-1GiB", "get", clients: 1, bytes: 1 << 30, figure: 400),
            workload("s3-put-boto3-16x64MiB", "put", clients: 16, bytes: 64 << 20, figure: 450),
            workload("s3-get-boto3-16x64MiB", "get", clients: 16, bytes: 64 << 20, figure: 900),
        ]
        let baselines = [
            BaselineResult(name: "odirect-write", figure: 1000, unit: "MB/s"),
            BaselineResult(name: "odirect-read", figure: 2000, unit: "MB/s"),
            BaselineResult(name: "odirect-write-fsync", figure: 800, unit: "MB/s"),
            BaselineResult(name: "nginx-s3-get-boto3-1GiB", figure: 500, unit: "MB/s"),
        ]
        let ratios = RatioRules.ratios(workloads: workloads, baselines: baselines)
        let of = { (name: String) in ratios.filter { $0.workload == name }.map { "\($0.baseline) \(format($0.value))" } }
        #expect(of("s3-put-boto3-1GiB") == ["put-curl-1GiB (native) 0.5"])
        #expect(of("s3-get-boto3-1GiB") == ["get-curl-1GiB (native) 0.4", "nginx-s3-get-boto3-1GiB 0.8"])
        #expect(of("s3-put-boto3-16x64MiB") == ["put-16x64MiB (native) 0.9"])
        // No native row of its shape in the run: no ratio, and no machine bound instead.
        #expect(of("s3-get-boto3-16x64MiB").isEmpty)
        // A replicas-2 S3 row: against the replicas-2 native row and the replicas-1 S3 row.
        var native2 = workload("put-curl-1GiB-r2", "put", clients: 1, bytes: 1 << 30, figure: 400)
        native2.replicas = 2
        var s3Two = workload("s3-put-boto3-1GiB-r2", "put", clients: 1, bytes: 1 << 30, figure: 200)
        s3Two.replicas = 2
        workloads = workloads.map { var row = $0; row.replicas = 1; return row } + [native2, s3Two]
        let copies = RatioRules.ratios(workloads: workloads, baselines: baselines).filter { $0.workload == "s3-put-boto3-1GiB-r2" }
        #expect(copies.map { "\($0.baseline) \(format($0.value))" } == ["put-curl-1GiB-r2 (native) 0.5", "s3-put-boto3-1GiB (replicas 1) 0.67"])
    }

    @Test("the driver's JSON line is found after Python's warnings; a set-up reports versions; no line is an error")
    func driverOutput() throws {
        let text = """
        /usr/lib/python3/dist-packages/urllib3/connectionpool.py:1045: InsecureRequestWarning: whatever
        {"seconds": 2.5, "cpu_seconds": 3.25, "bytes": 1073741824, "objects": 1, "request": {"x-amz-content-sha256": "hex", "checksums": ["x-amz-checksum-crc32"], "content-md5": false, "expect": "100-continue"}}
        """
        let output = try S3DriverOutput.parse(text)
        #expect(output.seconds == 2.5 && output.cpuSeconds == 3.25 && output.bytes == 1 << 30 && output.objects == 1)
        #expect(output.requestSummary == "x-amz-content-sha256 hex; checksum headers: x-amz-checksum-crc32; Content-MD5: no; Expect: 100-continue")
        let awscli = try S3DriverOutput.parse(#"{"seconds": 4.0, "cpu_seconds": 5.0, "bytes": 10, "objects": 1, "request": {}}"#)
        #expect(awscli.requestSummary == nil)
        let setup = try S3DriverOutput.parse(#"{"versions": {"boto3": "1.43.11", "awscli": "aws-cli/1.45.11"}}"#)
        #expect(setup.versions?["boto3"] == "1.43.11" && setup.seconds == nil)
        let presigned = try S3DriverOutput.parse(#"{"urls": ["http://127.0.0.1:9000/bench/k?X-Amz-Signature=ab"]}"#)
        #expect(presigned.urls == ["http://127.0.0.1:9000/bench/k?X-Amz-Signature=ab"])
        #expect(throws: BenchError.self) { try S3DriverOutput.parse("Traceback (most recent call last):\n  boom\n") }
    }

    @Test("the driver script is valid Python and its usage names every operation")
    func driverScript() throws {
        guard let python = which("python3") else { return }
        let path = NSTemporaryDirectory() + "s3-driver-\(UUID().uuidString).py"
        try S3Driver.script.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let compiled = try runCommand(python, ["-m", "py_compile", path], allowFailure: true)
        #expect(compiled.status == 0, "\(compiled.stderr)")
        let help = try runCommand(python, [path, "--help"], allowFailure: true)
        let usage = String(decoding: help.stdout, as: UTF8.self)
        #expect(help.status == 0 && usage.contains("{setup,presign,put,get}") && usage.contains("--part-bytes"), "\(usage) \(help.stderr)")
    }

    @Test("a download is accepted only with exactly the uploaded bytes: one flipped byte, a missing or an extra one fail it")
    func downloadCheck() throws {
        let directory = NSTemporaryDirectory() + "s3-check-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try S3Workload.makeSource(at: "\(directory)/up", bytes: (5 << 20) + 3)
        var bytes = try #require(FileManager.default.contents(atPath: source.path))
        let copy = "\(directory)/down"
        try bytes.write(to: URL(fileURLWithPath: copy))
        #expect(try S3Workload.matches(copy, source))
        bytes[4 << 20] ^= 1
        try bytes.write(to: URL(fileURLWithPath: copy))
        #expect(try !S3Workload.matches(copy, source))
        bytes[4 << 20] ^= 1
        try bytes.dropLast().write(to: URL(fileURLWithPath: copy))
        #expect(try !S3Workload.matches(copy, source))
        try (bytes + [0]).write(to: URL(fileURLWithPath: copy))
        #expect(try !S3Workload.matches(copy, source))
        #expect(try !S3Workload.matches("\(directory)/never-downloaded", source))
    }

    @Test("CPU time from /proc/<pid>/stat: utime + stime, also when the command name holds spaces and parentheses")
    func procStat() {
        let line = "4242 (api (worker) x) S 1 4242 4242 0 -1 4194560 5000 0 0 0 1234 567 0 0 20 0 9 0 100 0 0"
        #expect(CPUMeter.parseStat(line) == 1234 + 567)
        #expect(CPUMeter.parseStat("garbage") == nil)
        // This process's own line parses, and its figure is a number of seconds.
        #expect(CPUMeter.processSeconds(getpid()) != nil)
        #expect(CPUMeter.processSeconds(-1) == nil)
        let use = CPUUse(clientSeconds: 1, apiSeconds: 2, dataNodeSeconds: 1, wallSeconds: 2)
        #expect(use.coresBusy == 2)
        #expect(CPUUse.perGiB(3, bytes: 2 << 30) == 1.5 && CPUUse.perGiB(3, bytes: 0) == 0)
    }

    static let perfReport = """
    # To display the perf.data header info, please use --header/--header-only options.
    #
    # Samples: 6K of event 'cpu-clock:pppH'
    # Event count (approx.): 1604750000
    #
    # Overhead  Command          Shared Object                        Symbol                                         IPC   [IPC Coverage]
    # ........  ...............  ...................................  .............................................  ....................
    #
        20.50%  api-0            api                                  [.] CCryptoBoringSSL_md5_block_asm_data_order  -      -
        12.25%  api-1            api                                  [.] CCryptoBoringSSL_sha256_block_data_order_hw  -      -
        10.00%  api-1            api                                  [.] CCryptoBoringSSL_md5_block_asm_data_order  -      -
         9.00%  api-0            [kernel.kallsyms]                    [k] _copy_from_iter                            -      -
         4.00%  api-0            api                                  [.] crc32_iscsi_by16_10                        -      -
         2.00%  api-1            api                                  [.] crc32_gzip_refl_by16_10                    -      -
         1.50%  sqlite-writer    libswiftCore.so                      [.] swift_retain                               -      -

    #
    # (Tip: Sample related events with: perf record -e '{cycles,instructions}:S')
    """

    @Test("perf report: samples, the event, self time per symbol and the hashes' shares")
    func perfParse() {
        let profile = APIProfile.parse(report: Self.perfReport, workload: "s3-put-boto3-1GiB", megabytesPerSecond: 400, apiSecondsPerGiB: 2)
        #expect(profile.samples == 6000 && profile.event == "cpu-clock")
        #expect(profile.top.first == APIProfile.Entry(percent: 20.5, thread: "api-0", object: "api", symbol: "CCryptoBoringSSL_md5_block_asm_data_order"))
        #expect(profile.top.map(\.symbol).last == "swift_retain" && profile.top.last?.thread == "sqlite-writer" && profile.top.count == 7)
        #expect(profile.md5OnLoopThreads == 30.5)
        #expect(APIProfile.isLoopThread("api-12") && !APIProfile.isLoopThread("api-") && !APIProfile.isLoopThread("api-pool"))
        #expect(profile.shares == ["md5": 30.5, "sha256": 12.25, "kernel": 9, "crc32c": 4, "crc32": 2])
        #expect(abs(profile.md5SecondsPerGiB - 0.61) < 1e-9)
        #expect(APIProfile.parseCount("12K") == 12000 && APIProfile.parseCount("1.5M") == 1_500_000 && APIProfile.parseCount("845") == 845)
    }

    @Test("the report's S3 section: each row against native with its rounds and the goal, CPU per GiB, the clients' ceiling, the profile")
    func reportSection() throws {
        // One 1 GiB object each, so CPU seconds are seconds per GiB.
        func single(_ name: String, figure: Double, cpu: CPUUse) -> WorkloadResult {
            let bytes = 1 << 30
            return WorkloadResult(name: name, operation: "put", clients: 1, objectBytes: bytes, objects: 1, bytes: bytes,
                                  seconds: Double(bytes) / 1e6 / figure, latencyMs: .single(1), errors: 0, verified: true, cpu: cpu)
        }
        func round(_ number: Int, native: Double, s3: Double) -> BenchRound {
            let put = single("put-curl-1GiB", figure: native, cpu: CPUUse(clientSeconds: 0.5, apiSeconds: 1, dataNodeSeconds: 0.5, wallSeconds: 2))
            let row = single("s3-put-boto3-1GiB", figure: s3, cpu: CPUUse(clientSeconds: 2, apiSeconds: 2, dataNodeSeconds: 0.5, wallSeconds: 3))
            return BenchRound(round: number, workloads: [put, row], baselines: [BaselineResult(name: "nginx-s3-get-boto3-1GiB", figure: 500, unit: "MB/s")])
        }
        let rounds = [round(1, native: 600, s3: 540), round(2, native: 600, s3: 480), round(3, native: 500, s3: 450)]
        let workloads = RoundSummary.medianWorkloads(rounds)
        let baselines = RoundSummary.medianBaselines(rounds)
        let machine = MachineDescription(hostname: "vm", cpuModel: "cpu", cores: 2, kernel: "6", engine: "uring", chunkSizeBytes: 4 << 20,
                                         windowChunks: 8, replicas: 1, gitCommit: "abc", date: "2026-12-02T00:00:00Z")
        var report = BenchReport(machine: machine, quick: false, workloads: workloads, baselines: baselines,
                                 ratios: RatioRules.ratios(workloads: workloads, baselines: baselines), rounds: rounds)
        report.s3 = S3RunFacts(versions: ["boto3": "1.43.11"], partBytes: 8 << 20, threadsPerObject: 10, bucket: "bench",
                               downloadDirectory: "/dev/shm/x", uploadRequest: "x-amz-content-sha256 hex",
                               profiles: [APIProfile.parse(report: Self.perfReport, workload: "s3-put-boto3-1GiB", megabytesPerSecond: 400, apiSecondsPerGiB: 2)])
        let text = ReportTable.markdown(report)
        // Per round 0.9, 0.8, 0.9: the median 0.9 meets 0.85 (the medians' ratio, 480 ÷ 600, would not).
        #expect(text.contains("| s3-put-boto3-1GiB | 480 MB/s | put-curl-1GiB 600 MB/s | 0.8× | 0.9×, 0.8×, 0.9× | ≥ 0.85× met |"), "\(text)")
        #expect(text.contains("boto3 1.43.11") && text.contains("boto3's upload requests carried: x-amz-content-sha256 hex"))
        #expect(text.contains("| s3-put-boto3-1GiB | 480 | 2.00 | 2.00 | 0.50 | 1.50 |"), "\(text)")
        #expect(text.contains("| put-curl-1GiB | 600 | 0.50 | 1.00 | 0.50 | 1.00 |"), "\(text)")
        #expect(text.contains("- nginx-s3-get-boto3-1GiB: 500 MB/s"))
        #expect(text.contains("| s3-put-boto3-1GiB | 400 | 2.00 | 6000 | 30.5% | 12.2% | 2.0% | 4.0% | 9.0% | 0.61 |"), "\(text)")
        #expect(text.contains("perf sampled `cpu-clock` (no hardware PMU here"))
        // The JSON carries the CPU and the S3 facts, and reads back.
        let decoded = try BenchReport.decode(report.json())
        #expect(decoded.s3 == report.s3 && decoded.workloads.last?.cpu == report.workloads.last?.cpu)
        #expect(decoded.ratios.contains { $0.workload == "s3-put-boto3-1GiB" && $0.baseline == "put-curl-1GiB (native)" })
        // A report without S3 rows has no S3 section.
        report.workloads = report.workloads.filter { !$0.name.hasPrefix("s3-") }
        #expect(!ReportTable.markdown(report).contains("S3 beside the native API"))
    }

    @Test("reports written before CPU and S3 facts existed still decode")
    func oldReportsDecode() throws {
        let data = try #require(FileManager.default.contents(atPath: Self.repositoryFile("bench-results/baseline.json")))
        let report = try BenchReport.decode(data)
        #expect(report.s3 == nil && report.workloads.allSatisfy { $0.cpu == nil })
    }

    static func repositoryFile(_ path: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(path).path
    }
}
