import FlareCore
import FlareIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One data node under concurrent 4 MiB chunk PUTs and GETs, beside fio and loopback TCP
/// with the same number of streams.
///
/// The disks of shared VMs change speed by 2× from one minute to the next, so one Flare
/// figure and one fio figure taken a minute apart say little. The run is therefore made of
/// rounds, each measuring Flare and the baselines back to back (Flare first in odd rounds,
/// the baselines first in even ones); the report shows the medians and every round's ratios.
public struct DataNodeBench {
    let binDirectory: String
    let workDirectory: String
    let engine: String
    let clients: Int
    let chunksPerClient: Int
    let rounds: Int
    let straceOutput: String?
    let nodeLog: String?

    public init(binDirectory: String, workDirectory: String, engine: String, clients: Int, chunksPerClient: Int,
                rounds: Int = 3, straceOutput: String?, nodeLog: String? = nil) {
        precondition(rounds >= 1, "a run needs a round")
        self.binDirectory = binDirectory
        self.workDirectory = workDirectory
        self.engine = engine
        self.clients = clients
        self.chunksPerClient = chunksPerClient
        self.rounds = rounds
        self.straceOutput = straceOutput
        self.nodeLog = nodeLog
    }

    public func run() async throws -> BenchReport {
        let progress = ProgressReporter()
        var options = LocalCluster.Options(binDirectory: binDirectory, workDirectory: workDirectory)
        options.engine = engine
        options.dataNodes = 1
        let root = try makeTemporaryDirectory(in: workDirectory, prefix: "flare-datanode-bench-")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Signed as an api signs: the cost of checking signatures is part of what is measured.
        let credentials = try BenchCredentials(directory: root)
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(binDirectory)/datanode")
        process.arguments = ["--port", "\(port)", "--data-dir", "\(root)/data", "--io", engine, "--log-level", nodeLog == nil ? "warning" : "info",
                             "--cluster-secret-file", credentials.secretFile]
        if let nodeLog {
            // A line per request with its duration: where a slow phase spends its time.
            guard FileManager.default.createFile(atPath: nodeLog, contents: nil), let handle = FileHandle(forWritingAtPath: nodeLog) else {
                throw BenchError("cannot create \(nodeLog)")
            }
            process.standardError = handle
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try ChildProcess.start(process)
        defer { ChildProcess.stop(process) }
        for _ in 0..<200 where httpStatus(port: port, path: "/health") != 200 { usleep(50_000) }
        guard httpStatus(port: port, path: "/health") == 200 else { throw BenchError("the data node did not start") }

        let generator = try await LoadGenerator(engine: IOEngineKind(parsing: engine) ?? .auto, signer: credentials.signer)
        defer { generator.shutdown() }
        let target = BenchTarget(address: try SocketAddress(host: "127.0.0.1", port: port), pathPrefix: "/chunk/")
        var results: [BenchRound] = []
        for round in 1...rounds {
            var spec = WorkloadSpec(clients: clients, objectBytes: 4 << 20, objectsPerClient: chunksPerClient, asChunks: true)
            spec.namespace = "round\(round)"
            let tag = rounds > 1 ? " (round \(round)/\(rounds))" : ""
            var workloads: [WorkloadResult] = []
            var baselines: [BaselineResult] = []
            if round % 2 == 0 { baselines = try measureBaselines(progress, tag) }
            let flare = try await measureFlare(spec, target, generator, progress, tag, round: round, dataDirectory: "\(root)/data",
                                               strace: round == 1 ? process : nil)
            workloads = flare.workloads
            if round % 2 == 1 { baselines = try measureBaselines(progress, tag) }
            if let chunkFilesRead = flare.chunkFilesRead { baselines.append(chunkFilesRead) }
            let result = BenchRound(round: round, workloads: workloads, baselines: baselines)
            results.append(result)
            if rounds > 1 {
                print("  round \(round): " + result.ratios.map { "\($0.workload) \(format($0.value))× \($0.baseline)" }.joined(separator: ", "))
            }
        }
        let workloads = RoundSummary.medianWorkloads(results)
        let baselines = RoundSummary.medianBaselines(results)
        return BenchReport(machine: MachineFacts.describe(engine: engine, chunkSizeBytes: 4 << 20, windowChunks: 0), quick: false,
                           workloads: workloads, baselines: baselines,
                           ratios: RatioRules.ratios(workloads: workloads, baselines: baselines),
                           rounds: rounds > 1 ? results : nil)
    }

    /// Flare's PUT then GET of one round's chunks, and fio reading the same chunk files (before
    /// the GET in odd rounds, after it in even ones, so neither always finds the other's reads
    /// in a cache); `strace` traces the data node during the PUTs.
    private func measureFlare(_ spec: WorkloadSpec, _ target: BenchTarget, _ generator: LoadGenerator, _ progress: ProgressReporter,
                              _ tag: String, round: Int, dataDirectory: String,
                              strace node: Process?) async throws -> (workloads: [WorkloadResult], chunkFilesRead: BaselineResult?) {
        let existing = Set(chunkFiles(in: dataDirectory))
        var strace: Process?
        if let node, let straceOutput, let path = which("strace") {
            let tracer = Process()
            tracer.executableURL = URL(fileURLWithPath: path)
            tracer.arguments = ["-f", "-c", "-o", straceOutput, "-p", "\(node.processIdentifier)"]
            tracer.standardError = FileHandle.nullDevice
            try ChildProcess.start(tracer)
            usleep(500_000)
            strace = tracer
        }
        let disk = BlockDevice(containing: workDirectory)
        progress.begin("data node: PUT \(spec.label) chunks\(tag)")
        let before = disk?.snapshot()
        var (put, checksums) = try await generator.put(spec, to: target, name: "chunk-put-\(spec.label)") { progress.add($0) }
        put.device = disk?.activity(since: before)
        progress.finish("chunk-put-\(spec.label)\(tag): \(ReportTable.formatFigure(put.figure)) MB/s, p99 \(put.latencyMs.p99) ms, \(put.errors) errors")
        if let strace {
            ChildProcess.stop(strace, signal: SIGINT)
        }
        let written = chunkFiles(in: dataDirectory).filter { !existing.contains($0) }
        // Nothing to read when every PUT failed (the table shows their errors).
        func readChunkFiles() throws -> BaselineResult? {
            guard !written.isEmpty else { return nil }
            progress.begin("fio: read the round's \(written.count) chunk files\(tag)")
            let result = try DiskBaseline.readFiles(written, linkDirectory: "\(dataDirectory)-fio-links", name: "odirect-read-chunk-files")
            progress.finish("fio read of the chunk files\(tag): \(ReportTable.formatFigure(result.figure)) MB/s")
            return result
        }
        var chunkFilesRead: BaselineResult?
        if round % 2 == 1 { chunkFilesRead = try readChunkFiles() }
        progress.begin("data node: GET \(spec.label) chunks\(tag)")
        let beforeGet = disk?.snapshot()
        var get = try await generator.get(spec, from: target, name: "chunk-get-\(spec.label)", checksums: checksums) { progress.add($0) }
        get.device = disk?.activity(since: beforeGet)
        progress.finish("chunk-get-\(spec.label)\(tag): \(ReportTable.formatFigure(get.figure)) MB/s, p99 \(get.latencyMs.p99) ms, \(get.errors) errors")
        if round % 2 == 0 { chunkFilesRead = try readChunkFiles() }
        return ([put, get], chunkFilesRead)
    }

    /// Paths of the committed chunk files under a data directory.
    private func chunkFiles(in dataDirectory: String) -> [String] {
        let chunks = "\(dataDirectory)/chunks"
        let shards = (try? FileManager.default.contentsOfDirectory(atPath: chunks)) ?? []
        return shards.flatMap { shard in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(chunks)/\(shard)")) ?? []).map { "\(chunks)/\(shard)/\($0)" }
        }
    }

    /// Loopback TCP with as many streams as clients, and fio on the same disk, for as many bytes as Flare moved.
    private func measureBaselines(_ progress: ProgressReporter, _ tag: String) throws -> [BaselineResult] {
        let total = clients * chunksPerClient * (4 << 20)
        progress.begin("baselines: loopback TCP × \(clients), fio\(tag)")
        var baselines = [try SocketBaselines.loopbackThroughput(streams: clients, bytesPerStream: total / clients)]
        baselines += try DiskBaseline.measure(directory: workDirectory, bytes: total)
        progress.finish("baselines\(tag): " + baselines.map { "\($0.name) \(ReportTable.formatFigure($0.figure)) \($0.unit)" }.joined(separator: ", "))
        return baselines
    }
}
