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
        #expect(S3RowName(operation: "get", client: .awscli, shape: "1GiB").name == "s3-get-awscli-1GiB")
        for name in ["put-curl-1GiB", "s3-put-boto3", "s3-head-boto3-1GiB", "s3-put-rclone-1GiB", "s3-put-boto3-1GiB-r2", "s3-put-boto3-"] {
            #expect(S3RowName(parsing: name) == nil, "\(name)")
        }
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
        #expect(help.status == 0 && usage.contains("{setup,put,get}") && usage.contains("--part-bytes"), "\(usage) \(help.stderr)")
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
    # Overhead  Shared Object                        Symbol                                         IPC   [IPC Coverage]
    # ........  ...................................  .............................................  ....................
    #
        30.50%  api                                  [.] CCryptoBoringSSL_md5_block_asm_data_order  -      -
        12.25%  api                                  [.] CCryptoBoringSSL_sha256_block_data_order_hw  -      -
         9.00%  [kernel.kallsyms]                    [k] _copy_from_iter                            -      -
         4.00%  api                                  [.] crc32_iscsi_by16_10                        -      -
         2.00%  api                                  [.] crc32_gzip_refl_by16_10                    -      -
         1.50%  libswiftCore.so                      [.] swift_retain                               -      -

    #
    # (Tip: Sample related events with: perf record -e '{cycles,instructions}:S')
    """

    @Test("perf report: samples, the event, self time per symbol and the hashes' shares")
    func perfParse() {
        let profile = APIProfile.parse(report: Self.perfReport, workload: "s3-put-boto3-1GiB", megabytesPerSecond: 400, apiSecondsPerGiB: 2)
        #expect(profile.samples == 6000 && profile.event == "cpu-clock")
        #expect(profile.top.first == APIProfile.Entry(percent: 30.5, object: "api", symbol: "CCryptoBoringSSL_md5_block_asm_data_order"))
        #expect(profile.top.map(\.symbol).last == "swift_retain" && profile.top.count == 6)
        #expect(profile.shares == ["md5": 30.5, "sha256": 12.25, "kernel": 9, "crc32c": 4, "crc32": 2])
        #expect(abs(profile.md5SecondsPerGiB - 0.61) < 1e-9)
        #expect(APIProfile.parseCount("12K") == 12000 && APIProfile.parseCount("1.5M") == 1_500_000 && APIProfile.parseCount("845") == 845)
    }
}
