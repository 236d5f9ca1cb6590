import FlareCore
import FlareIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One data node under concurrent 4 MiB chunk PUTs and GETs, beside fio and loopback TCP
/// with the same number of streams.
public struct DataNodeBench {
    let binDirectory: String
    let workDirectory: String
    let engine: String
    let clients: Int
    let chunksPerClient: Int
    let straceOutput: String?

    public init(binDirectory: String, workDirectory: String, engine: String, clients: Int, chunksPerClient: Int, straceOutput: String?) {
        self.binDirectory = binDirectory
        self.workDirectory = workDirectory
        self.engine = engine
        self.clients = clients
        self.chunksPerClient = chunksPerClient
        self.straceOutput = straceOutput
    }

    public func run() async throws -> BenchReport {
        let progress = ProgressReporter()
        var options = LocalCluster.Options(binDirectory: binDirectory, workDirectory: workDirectory)
        options.engine = engine
        options.dataNodes = 1
        let root = try makeTemporaryDirectory(in: workDirectory, prefix: "flare-datanode-bench-")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(binDirectory)/datanode")
        process.arguments = ["--port", "\(port)", "--data-dir", "\(root)/data", "--io", engine, "--log-level", "warning"]
        process.standardError = FileHandle.nullDevice
        try ChildProcess.start(process)
        defer { ChildProcess.stop(process) }
        for _ in 0..<200 where httpStatus(port: port, path: "/health") != 200 { usleep(50_000) }
        guard httpStatus(port: port, path: "/health") == 200 else { throw BenchError("the data node did not start") }

        let generator = try await LoadGenerator(engine: IOEngineKind(parsing: engine) ?? .auto)
        defer { generator.shutdown() }
        let target = BenchTarget(address: try SocketAddress(host: "127.0.0.1", port: port), pathPrefix: "/chunk/")
        let spec = WorkloadSpec(clients: clients, objectBytes: 4 << 20, objectsPerClient: chunksPerClient, asChunks: true)
        var strace: Process?
        if let straceOutput, let path = which("strace") {
            let tracer = Process()
            tracer.executableURL = URL(fileURLWithPath: path)
            tracer.arguments = ["-f", "-c", "-o", straceOutput, "-p", "\(process.processIdentifier)"]
            tracer.standardError = FileHandle.nullDevice
            try ChildProcess.start(tracer)
            usleep(500_000)
            strace = tracer
        }
        progress.begin("data node: PUT \(spec.label) chunks")
        let (put, checksums) = try await generator.put(spec, to: target, name: "chunk-put-\(spec.label)") { progress.add($0) }
        progress.finish("chunk-put-\(spec.label): \(ReportTable.formatFigure(put.figure)) MB/s, p99 \(put.latencyMs.p99) ms, \(put.errors) errors")
        if let strace {
            ChildProcess.stop(strace, signal: SIGINT)
        }
        progress.begin("data node: GET \(spec.label) chunks")
        let get = try await generator.get(spec, from: target, name: "chunk-get-\(spec.label)", checksums: checksums) { progress.add($0) }
        progress.finish("chunk-get-\(spec.label): \(ReportTable.formatFigure(get.figure)) MB/s, p99 \(get.latencyMs.p99) ms, \(get.errors) errors")

        let total = clients * chunksPerClient * (4 << 20)
        progress.begin("baselines: loopback TCP × \(clients), fio")
        var baselines = [try SocketBaselines.loopbackThroughput(streams: clients, bytesPerStream: total / clients)]
        baselines += try DiskBaseline.measure(directory: workDirectory, bytes: total)
        progress.finish("baselines: " + baselines.map { "\($0.name) \(ReportTable.formatFigure($0.figure)) \($0.unit)" }.joined(separator: ", "))
        let workloads = [put, get]
        return BenchReport(machine: MachineFacts.describe(engine: engine, chunkSizeBytes: 4 << 20, windowChunks: 0), quick: false,
                           workloads: workloads, baselines: baselines,
                           ratios: RatioRules.ratios(workloads: workloads.map { var w = $0; w.clients = min(w.clients, 8); return w }, baselines: baselines))
    }
}
