import ArgumentParser
import FlareBench
import FlareCore
import Foundation

@main
struct FlareBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flare-bench",
        abstract: "How fast is this Flare cluster, next to what this machine can do and what you would run instead.",
        discussion: """
        With no arguments it starts a local cluster (the api and datanode binaries next to flare-bench), \
        runs the workload matrix, measures same-run baselines (loopback TCP, O_DIRECT disk with fio, the minimal \
        pipeline of Flare's shape (flare-pipeline, next to flare-bench) moving the curl object, and nginx when \
        installed) and prints every Flare figure beside them with its ratio. Results go to bench-results/.
        nginx's curl PUT is also measured with an fsync of the stored file, and its curl GET with the file \
        dropped from the page cache: nginx with the guarantees Flare gives (durable before 201, read from disk).
        """,
        subcommands: [Run.self, Check.self, DataNode.self, Memory.self, Failover.self, Repair.self, Rebalance.self, S3.self, HTTPS.self],
        defaultSubcommand: Run.self)
}

/// Options shared by the subcommands that start processes.
struct CommonOptions: ParsableArguments {
    @Option(help: "I/O engine of the processes it starts: auto, uring or epoll.")
    var io = "auto"

    @Option(name: .customLong("work-dir"), help: "Directory on the disk to measure (data and baseline files go here).")
    var workDirectory = "/tmp/flare-bench"

    @Option(name: .customLong("bin-dir"), help: "Where the api, datanode and flare-pipeline binaries are (default: next to flare-bench).")
    var binDirectory: String?

    @Option(name: .customLong("results-dir"), help: "Where JSON results and the README table go.")
    var resultsDirectory = "bench-results"

    @Option(help: "Write the JSON here instead of <results-dir>/<date>-<host>-<engine>.json.")
    var json: String?

    @Flag(name: .customLong("no-record"), help: "Print only; write nothing to the results directory.")
    var noRecord = false

    var resolvedBinDirectory: String {
        binDirectory ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
    }

    func validate() throws {
        guard ["auto", "uring", "epoll"].contains(io) else { throw ValidationError("--io must be auto, uring or epoll") }
    }

    /// Prints a subcommand's markdown table and, unless --no-record, writes it to
    /// <results-dir>/<name>-<engine>.md.
    func publishTable(_ table: String, as name: String) throws {
        print("\n" + table)
        guard !noRecord else { return }
        try FileManager.default.createDirectory(atPath: resultsDirectory, withIntermediateDirectories: true)
        let path = "\(resultsDirectory)/\(name)-\(io).md"
        try (table + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        print("wrote \(path)")
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the workload matrix (the default).")

    @OptionGroup var common: CommonOptions

    @Option(help: "Bench a running cluster's API instead of starting one, e.g. http://127.0.0.1:8000.")
    var target: String?

    @Flag(help: "A smaller matrix that fits in ~25 s (for CI).")
    var quick = false

    @Option(help: "Object sizes, comma-separated (e.g. 4KiB,1MiB,64MiB); replaces the standard matrix.")
    var sizes: String?

    @Option(help: "Client counts, comma-separated (e.g. 1,16,64); with --sizes.")
    var concurrency: String?

    @Option(help: "Seconds each small-object workload runs; with --sizes.")
    var duration: Double = 5

    @Option(name: .customLong("curl-object"), help: "Size of the single object moved with curl (default 1GiB, 256MiB with --quick).")
    var curlObject: String?

    @Option(help: "Rounds of Flare, nginx and the machine baselines back to back, order alternating; the report shows medians and each round's ratios.")
    var rounds = 1

    @Option(help: "Copies of every chunk in the cluster it starts (1, as the committed baseline was measured); several, comma-separated (1,2), start one cluster each and measure them in the same rounds.")
    var replicas = "1"

    @Flag(name: .customLong("no-nginx"), help: "Skip the nginx comparison.")
    var noNginx = false

    @Flag(name: .customLong("keep-cluster"), help: "Keep the local cluster's data directories and logs (api at --log-level info) when it stops, and print where they are.")
    var keepCluster = false

    @Flag(help: "Also S3 rows: boto3 and awscli moving the curl object, and boto3 the first many-object workload's objects at once (see `flare-bench s3 --help`).")
    var s3 = false

    func validate() throws {
        if let sizes, parseSizes(sizes) == nil { throw ValidationError("--sizes: use sizes like 4KiB,1MiB,64MiB") }
        if let concurrency, parseCounts(concurrency) == nil { throw ValidationError("--concurrency: use counts like 1,16,64") }
        if concurrency != nil && sizes == nil { throw ValidationError("--concurrency goes with --sizes") }
        if rounds < 1 || rounds > 20 { throw ValidationError("--rounds must be 1…20") }
        guard let copies = parseCounts(replicas), copies.allSatisfy({ (1...3).contains($0) }), Set(copies).count == copies.count else {
            throw ValidationError("--replicas: distinct counts of 1…3 (the local cluster has three data nodes), e.g. 2 or 1,2")
        }
        if target != nil && copies != [1] { throw ValidationError("--replicas is for the cluster flare-bench starts, not a --target") }
        if target != nil && s3 { throw ValidationError("--s3 is for the cluster flare-bench starts, not a --target") }
        guard duration > 0 && duration <= 600 else { throw ValidationError("--duration must be 0…600 seconds") }
        if let curlObject, (ByteSize.parse(curlObject) ?? 0) <= 0 { throw ValidationError("--curl-object: use a size like 1GiB") }
    }

    func run() async throws {
        ChildProcess.stopChildrenOnSignal()
        var matrix = quick ? BenchMatrix.quick : BenchMatrix.standard
        if let sizes {
            matrix = .custom(sizes: parseSizes(sizes)!, concurrency: parseCounts(concurrency ?? "16") ?? [16],
                             budgetBytes: quick ? 128 << 20 : 1 << 30, duration: .milliseconds(Int(duration * 1000)),
                             curlObjectBytes: matrix.curlObjectBytes)
        }
        var options = BenchRunner.Options(matrix: matrix, quick: quick, target: target,
                                          binDirectory: common.resolvedBinDirectory, workDirectory: common.workDirectory)
        if let curlObject { options.matrix.curlObjectBytes = ByteSize.parse(curlObject)! }
        options.engine = common.io
        options.includeNginx = !noNginx
        options.rounds = rounds
        options.replicas = parseCounts(replicas)!
        options.keepCluster = keepCluster
        if s3 {
            var s3Options = S3Workload.Options()
            s3Options.objectBytes = options.matrix.curlObjectBytes
            // The first workload of single large objects at once, as `s3`'s 16 × 64 MiB.
            let many = options.matrix.workloads.first { $0.objectsPerClient == 1 && $0.objectBytes >= s3Options.partBytes }
            s3Options.manyObjects = many?.clients ?? 0
            s3Options.manyObjectBytes = many?.objectBytes ?? 0
            options.s3 = s3Options
        }
        let report = try await BenchRunner(options: options).run()
        try publish(report, common: common)
        let failed = report.workloads.filter { !$0.verified }
        if !failed.isEmpty {
            throw BenchFailure("workloads with errors or wrong bytes: " + failed.map(\.name).joined(separator: ", "))
        }
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Throughput regression check: run --quick and compare each ratio with the committed baseline.",
        discussion: """
        Fails when a ratio to a machine baseline (loopback TCP, fio, round trips, the minimal pipeline; nginx ratios \
        are only reported) \
        falls below --threshold × its baseline ratio. With CI=true the check is coarser \
        (threshold 0.5, and a workload fails only if it regresses in 2 of 3 attempts), because shared machines \
        are noisy. Refresh the baseline deliberately with --update-baseline after a change that is meant to \
        move the figures, and commit bench-results/baseline.json with it.
        """)

    @OptionGroup var common: CommonOptions

    @Option(help: "The committed baseline run.")
    var baseline = "bench-results/baseline.json"

    @Option(help: "Fail below this fraction of the baseline ratio (default 0.8; 0.5 when CI=true).")
    var threshold: Double?

    @Flag(name: .customLong("update-baseline"), help: "Write this run as the new baseline instead of comparing.")
    var updateBaseline = false

    func run() async throws {
        ChildProcess.stopChildrenOnSignal()
        let inCI = ProcessInfo.processInfo.environment["CI"] == "true"
        let limit = threshold ?? (inCI ? 0.5 : 0.8)
        let attemptsMax = inCI ? 3 : 1
        var options = BenchRunner.Options(matrix: .quick, quick: true, target: nil,
                                          binDirectory: common.resolvedBinDirectory, workDirectory: common.workDirectory)
        options.engine = common.io
        if updateBaseline {
            let report = try await BenchRunner(options: options).run()
            try report.json().write(to: URL(fileURLWithPath: baseline))
            print("wrote \(baseline)")
            return
        }
        guard let data = FileManager.default.contents(atPath: baseline) else {
            throw BenchFailure("no baseline at \(baseline): create one with flare-bench check --update-baseline")
        }
        let committed = try BenchReport.decode(data)
        let check = RegressionCheck(threshold: limit)
        var attempts: [[RegressionCheck.Regression]] = []
        for attempt in 1...attemptsMax {
            let report = try await BenchRunner(options: options).run()
            print(ReportTable.markdown(report))
            let failed = report.workloads.filter { !$0.verified }
            if !failed.isEmpty { throw BenchFailure("wrong bytes or errors in: " + failed.map(\.name).joined(separator: ", ")) }
            let regressions = check.regressions(current: report.ratios, committed: committed.ratios)
            attempts.append(regressions)
            print("attempt \(attempt): \(regressions.isEmpty ? "no regression" : regressions.map(\.description).joined(separator: "; "))")
            if regressions.isEmpty { break }
        }
        // A clean attempt ends the loop early; a workload fails only if it regressed in 2 of
        // the attempts (1 outside CI, where there is one attempt).
        let persistent = RegressionCheck.persistent(attempts, failuresNeeded: inCI ? 2 : 1)
        guard persistent.isEmpty else {
            throw BenchFailure("throughput regression (threshold \(limit)×): " + persistent.map(\.description).joined(separator: "; "))
        }
        print("bench-check passed (threshold \(limit)× of \(baseline))")
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Prints the table and records JSON and the README table.
func publish(_ report: BenchReport, common: CommonOptions, kind: String = "") throws {
    let table = ReportTable.markdown(report)
    print("\n" + table)
    guard !common.noRecord else { return }
    try FileManager.default.createDirectory(atPath: common.resultsDirectory, withIntermediateDirectories: true)
    let day = String(report.machine.date.prefix(10))
    let path = common.json ?? "\(common.resultsDirectory)/\(day)-\(report.machine.hostname)\(kind)-\(report.machine.engine).json"
    try report.json().write(to: URL(fileURLWithPath: path))
    let readme = "\(common.resultsDirectory)/README.md"
    if !FileManager.default.fileExists(atPath: readme) {
        try "# flare-bench results\n\nEach section is one run of `flare-bench`; ratios compare Flare with baselines measured in the same run.\n\n"
            .write(toFile: readme, atomically: true, encoding: .utf8)
    }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: readme))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(("\n" + table).utf8))
    try handle.close()
    print("wrote \(path) and appended the table to \(readme)")
}

func parseSizes(_ text: String) -> [Int]? {
    let sizes = text.split(separator: ",").map { ByteSize.parse(String($0)) }
    guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
    return sizes.map { $0! }
}

func parseCounts(_ text: String) -> [Int]? {
    let counts = text.split(separator: ",").map { Int($0) }
    guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) > 0 && ($0 ?? 0) <= 1024 }) else { return nil }
    return counts.map { $0! }
}
