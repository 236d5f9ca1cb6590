import ArgumentParser
import FlareBench
import FlareCore
import Foundation

struct S3: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s3",
        abstract: "S3 through boto3 and awscli beside the native API, nginx and fio, in the same interleaved rounds.",
        discussion: """
        Starts a local cluster serving S3 too (a free port, a key generated into its directory), creates the bucket \
        and runs, each round: the native curl PUT and GET of --object and the native --objects × --object-size \
        workload; boto3 upload_file/download_file of --object (multipart: --part-size parts, --threads at once) and \
        of --objects objects at once (one thread each, each multipart); `aws s3 cp` of --object up and down; curl on presigned URLs of --object (the \
        native rows' client, hashing nothing: S3 ÷ native is then the server's own S3 cost); nginx \
        doing the native jobs, and boto3 and awscli downloading --object from nginx (the clients' own ceiling: nginx \
        serves it from the page cache at almost no CPU); fio and loopback TCP. Every download is checked against what \
        was uploaded. Each S3 row is shown against the native row of its shape (goal: PUT ≥ 0.85×, GET ≥ 0.95×) with \
        the CPU seconds per GiB of the client, the api and the data nodes. --profile adds one more native and one \
        boto3 PUT under `perf record -g` of the api, and the share of its CPU in MD5, SHA-256 and the CRCs. \
        Needs python3 with boto3, and awscli. Writes <results-dir>/<date>-<host>-s3-<engine>.json and \
        <results-dir>/s3-<engine>.md unless --no-record.
        """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Size of the single object (the native curl object too).")
    var object = "1GiB"

    @Option(help: "Objects moved at once in the many-object rows (0: none).")
    var objects = 16

    @Option(name: .customLong("object-size"), help: "Size of each of those objects.")
    var objectSize = "64MiB"

    @Option(name: .customLong("part-size"), help: "Multipart threshold and part size of boto3 and awscli (at least 5MiB).")
    var partSize = "8MiB"

    @Option(help: "Parts in flight per object: boto3's max_concurrency, awscli's max_concurrent_requests.")
    var threads = 10

    @Option(help: "Rounds, order alternating (Flare, nginx, the machine; then the other way round); the report shows medians and each round's ratios.")
    var rounds = 3

    @Option(help: "Copies of every chunk in the cluster it starts; several, comma-separated (1,2), start one cluster each.")
    var replicas = "1"

    @Flag(name: .customLong("no-nginx"), help: "Skip nginx (and with it the clients' own ceiling).")
    var noNginx = false

    @Flag(help: "After the rounds, perf record -g the api during one more native and one boto3 PUT of --object.")
    var profile = false

    @Flag(name: .customLong("keep-cluster"), help: "Keep the local cluster's data directories and logs when it stops.")
    var keepCluster = false

    func validate() throws {
        guard (ByteSize.parse(object) ?? 0) > 0 else { throw ValidationError("--object: use a size like 1GiB") }
        guard (0...256).contains(objects) else { throw ValidationError("--objects must be 0…256") }
        guard (ByteSize.parse(objectSize) ?? 0) > 0 else { throw ValidationError("--object-size: use a size like 64MiB") }
        guard (ByteSize.parse(partSize) ?? 0) >= 5 << 20 else { throw ValidationError("--part-size: at least 5MiB (S3's smallest part)") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be 1…64") }
        if rounds < 1 || rounds > 20 { throw ValidationError("--rounds must be 1…20") }
        guard let copies = parseCounts(replicas), copies.allSatisfy({ (1...3).contains($0) }), Set(copies).count == copies.count else {
            throw ValidationError("--replicas: distinct counts of 1…3, e.g. 1 or 1,2")
        }
    }

    func run() async throws {
        ChildProcess.stopChildrenOnSignal()
        let objectBytes = ByteSize.parse(object)!
        let manyBytes = ByteSize.parse(objectSize)!
        let matrix = BenchMatrix(curlObjectBytes: objectBytes, workloads: objects > 0 ? [
            WorkloadSpec(clients: objects, objectBytes: manyBytes, objectsPerClient: 1),
        ] : [])
        var options = BenchRunner.Options(matrix: matrix, quick: false, target: nil,
                                          binDirectory: common.resolvedBinDirectory, workDirectory: common.workDirectory)
        options.engine = common.io
        options.includeNginx = !noNginx
        options.rounds = rounds
        options.replicas = parseCounts(replicas)!
        options.keepCluster = keepCluster
        var s3 = S3Workload.Options()
        s3.objectBytes = objectBytes
        s3.manyObjects = objects
        s3.manyObjectBytes = manyBytes
        s3.partBytes = ByteSize.parse(partSize)!
        s3.threads = threads
        s3.profile = profile
        options.s3 = s3
        let report = try await BenchRunner(options: options).run()
        let table = ReportTable.markdown(report)
        try common.publishTable(table, as: "s3")
        if !common.noRecord {
            let path = common.json ?? "\(common.resultsDirectory)/\(report.machine.date.prefix(10))-\(report.machine.hostname)-s3-\(report.machine.engine).json"
            try report.json().write(to: URL(fileURLWithPath: path))
            print("wrote \(path)")
        }
        let failed = report.workloads.filter { !$0.verified }
        if !failed.isEmpty { throw BenchFailure("workloads with errors or wrong bytes: " + failed.map(\.name).joined(separator: ", ")) }
    }
}
