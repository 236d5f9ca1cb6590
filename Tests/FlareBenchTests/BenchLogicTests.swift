@testable import FlareBench
import Foundation
import Testing

func workload(_ name: String, _ operation: String, clients: Int, bytes: Int, figure: Double) -> WorkloadResult {
    // `seconds` chosen so the figure comes out as asked: MB/s for large, ops/s for small.
    let objects = 100
    let total = bytes * objects
    let seconds = bytes < 256 * 1024 ? Double(objects) / figure : Double(total) / 1e6 / figure
    return WorkloadResult(name: name, operation: operation, clients: clients, objectBytes: bytes, objects: objects, bytes: total,
                          seconds: seconds, latencyMs: Percentiles(p50: 1, p90: 2, p99: 3, max: 4), errors: 0, verified: true)
}

@Suite("flare-bench logic")
struct BenchLogicTests {
    @Test("ratios use the slower of wire and disk for large objects, round trips for small ones, and nginx when measured")
    func ratios() {
        let workloads = [
            workload("put-16x64MiB", "put", clients: 16, bytes: 64 << 20, figure: 400),
            workload("get-16x64MiB", "get", clients: 16, bytes: 64 << 20, figure: 900),
            workload("put-64x4KiB", "put", clients: 64, bytes: 4096, figure: 3000),
        ]
        let baselines = [
            BaselineResult(name: "tcp-loopback-8", figure: 3000, unit: "MB/s"),
            BaselineResult(name: "odirect-write", figure: 500, unit: "MB/s"),
            BaselineResult(name: "odirect-read", figure: 4000, unit: "MB/s"),
            BaselineResult(name: "tcp-roundtrip-64", figure: 150_000, unit: "ops/s"),
            BaselineResult(name: "nginx-put-16x64MiB", figure: 800, unit: "MB/s"),
        ]
        let ratios = RatioRules.ratios(workloads: workloads, baselines: baselines)
        func ratio(_ workload: String, _ baseline: String) -> Double? {
            ratios.first { $0.workload == workload && $0.baseline == baseline }?.value
        }
        #expect(abs(ratio("put-16x64MiB", "odirect-write")! - 0.8) < 1e-9)
        #expect(abs(ratio("put-16x64MiB", "nginx-put-16x64MiB")! - 0.5) < 1e-9)
        #expect(abs(ratio("get-16x64MiB", "tcp-loopback-8")! - 0.3) < 1e-9)
        #expect(abs(ratio("put-64x4KiB", "tcp-roundtrip-64")! - 0.02) < 1e-9)
        #expect(ratios.count == 4)
        let withSynced = RatioRules.ratios(workloads: workloads, baselines: baselines + [BaselineResult(name: "odirect-write-fsync", figure: 400, unit: "MB/s")])
        #expect(withSynced.first { $0.baseline == "odirect-write-fsync" }?.value == 1.0)
        // The data node bench's fio read of the very chunk files: large GETs only.
        let withFiles = RatioRules.ratios(workloads: workloads, baselines: baselines + [BaselineResult(name: "odirect-read-chunk-files", figure: 1800, unit: "MB/s")])
        #expect(withFiles.filter { $0.baseline == "odirect-read-chunk-files" }.map(\.workload) == ["get-16x64MiB"])
        #expect(abs((withFiles.first { $0.baseline == "odirect-read-chunk-files" }?.value ?? 0) - 0.5) < 1e-9)
        // nginx made durable (PUT + fsync) and read from disk: ratios of their own, beside plain nginx.
        let curl = [workload("put-curl-1GiB", "put", clients: 1, bytes: 1 << 30, figure: 500),
                    workload("get-curl-1GiB", "get", clients: 1, bytes: 1 << 30, figure: 800)]
        let nginx = RatioRules.ratios(workloads: curl, baselines: [
            BaselineResult(name: "nginx-put-curl-1GiB", figure: 1000, unit: "MB/s"),
            BaselineResult(name: "nginx-durable-put-curl-1GiB", figure: 400, unit: "MB/s"),
            BaselineResult(name: "nginx-get-curl-1GiB", figure: 1000, unit: "MB/s"),
            BaselineResult(name: "nginx-cold-get-curl-1GiB", figure: 640, unit: "MB/s"),
        ])
        #expect(nginx.map { "\($0.workload) \($0.baseline) \(format($0.value))" } == [
            "put-curl-1GiB nginx-put-curl-1GiB 0.5", "put-curl-1GiB nginx-durable-put-curl-1GiB 1.25",
            "get-curl-1GiB nginx-get-curl-1GiB 0.8", "get-curl-1GiB nginx-cold-get-curl-1GiB 1.25",
        ])
    }

    @Test("replicas 1,2 in one run: PUT × 2 against fio's durable write, and each replicas-2 figure against replicas 1")
    func replicaRatios() {
        func copies(_ result: WorkloadResult, _ replicas: Int) -> WorkloadResult {
            var result = result
            result.replicas = replicas
            return result
        }
        let workloads = [
            copies(workload("put-curl-1GiB", "put", clients: 1, bytes: 1 << 30, figure: 800), 1),
            copies(workload("put-curl-1GiB-r2", "put", clients: 1, bytes: 1 << 30, figure: 600), 2),
            copies(workload("get-curl-1GiB", "get", clients: 1, bytes: 1 << 30, figure: 700), 1),
            copies(workload("get-curl-1GiB-r2", "get", clients: 1, bytes: 1 << 30, figure: 770), 2),
        ]
        let baselines = [
            BaselineResult(name: "tcp-loopback-1", figure: 2000, unit: "MB/s"),
            BaselineResult(name: "odirect-write", figure: 1800, unit: "MB/s"),
            BaselineResult(name: "odirect-write-fsync", figure: 1500, unit: "MB/s"),
            BaselineResult(name: "odirect-read", figure: 1750, unit: "MB/s"),
        ]
        let ratios = RatioRules.ratios(workloads: workloads, baselines: baselines)
        let r2 = ratios.filter { $0.workload.hasSuffix("-r2") }.map { "\($0.workload) \($0.baseline) \(format($0.value))" }
        #expect(r2 == ["put-curl-1GiB-r2 odirect-write-fsync/2 0.8", "put-curl-1GiB-r2 put-curl-1GiB (replicas 1) 0.75",
                       "get-curl-1GiB-r2 odirect-read 0.44", "get-curl-1GiB-r2 get-curl-1GiB (replicas 1) 1.1"])
        // The first setting keeps its names and its usual ratios (the committed baseline's).
        #expect(ratios.filter { $0.workload == "put-curl-1GiB" }.map(\.baseline) == ["odirect-write", "odirect-write-fsync"])
    }

    @Test("the curl object against the minimal pipeline moving it: one copy only, and checked by bench-check")
    func pipelineRatios() {
        func copies(_ result: WorkloadResult, _ replicas: Int?) -> WorkloadResult {
            var result = result
            result.replicas = replicas
            return result
        }
        let workloads = [
            copies(workload("put-curl-256MiB", "put", clients: 1, bytes: 256 << 20, figure: 800), nil),
            copies(workload("get-curl-256MiB", "get", clients: 1, bytes: 256 << 20, figure: 700), nil),
            copies(workload("put-curl-256MiB-r2", "put", clients: 1, bytes: 256 << 20, figure: 500), 2),
            copies(workload("get-curl-256MiB-r2", "get", clients: 1, bytes: 256 << 20, figure: 650), 2),
            workload("put-8x16MiB", "put", clients: 8, bytes: 16 << 20, figure: 900),
        ]
        let baselines = [
            BaselineResult(name: "pipeline-put-curl-256MiB", figure: 1600, unit: "MB/s"),
            BaselineResult(name: "pipeline-get-curl-256MiB", figure: 1400, unit: "MB/s"),
        ]
        let ratios = RatioRules.ratios(workloads: workloads, baselines: baselines)
        let pipeline = ratios.filter { $0.baseline.hasPrefix("pipeline-") }
        #expect(pipeline.map { "\($0.workload) \($0.baseline) \(format($0.value))" } == [
            "put-curl-256MiB pipeline-put-curl-256MiB 0.5", "get-curl-256MiB pipeline-get-curl-256MiB 0.5",
        ])
        // With the first setting of copies named explicitly (`--replicas 1,2`), still one ratio per operation.
        let explicit = RatioRules.ratios(workloads: workloads.map { $0.replicas == nil && $0.name.contains("curl") ? copies($0, 1) : $0 },
                                         baselines: baselines)
        #expect(explicit.filter { $0.baseline.hasPrefix("pipeline-") } == pipeline)
        #expect(pipeline.allSatisfy(RegressionCheck.isChecked))
        // A run without the pipeline (binary missing) has no such ratio, and the check skips it.
        #expect(RatioRules.ratios(workloads: workloads, baselines: []).allSatisfy { !$0.baseline.hasPrefix("pipeline-") })
        let check = RegressionCheck(threshold: 0.8)
        let slower = pipeline.map { Ratio(workload: $0.workload, baseline: $0.baseline, flare: $0.flare * 0.7, reference: $0.reference) }
        #expect(check.regressions(current: slower, committed: pipeline).map(\.workload) == ["put-curl-256MiB", "get-curl-256MiB"])
        #expect(check.regressions(current: slower, committed: []).isEmpty)
    }

    @Test("the port a flare-pipeline process prints at start")
    func pipelinePort() {
        #expect(MinimalPipeline.listeningPort(in: "flare-pipeline store listening on 127.0.0.1:40655, chunks in /d (O_DIRECT)\n") == 40655)
        #expect(MinimalPipeline.listeningPort(in: "flare-pipeline relay listening on 127.0.0.1:8001, 3 stores\n") == 8001)
        #expect(MinimalPipeline.listeningPort(in: "flare-pipeline store: cannot listen") == nil)
    }

    @Test("the repair bench reads a counter from the api's metrics page; a missing series is 0")
    func metricValue() {
        let page = """
        # TYPE flare_api_repair_copies_total counter
        flare_api_repair_copies_total{result="done"} 512
        flare_api_repair_copies_total{result="done_extra"} 7
        flare_api_repair_bytes_total 2147483648
        """
        #expect(RepairBench.value(page, "flare_api_repair_copies_total{result=\"done\"}") == 512)
        #expect(RepairBench.value(page, "flare_api_repair_bytes_total") == 2_147_483_648)
        #expect(RepairBench.value(page, "flare_api_repair_copies_total{result=\"superseded\"}") == 0)
    }

    @Test("a zero baseline gives ratio 0, not infinity")
    func zeroBaseline() {
        #expect(Ratio(workload: "w", baseline: "b", flare: 10, reference: 0).value == 0)
    }

    @Test("percentiles come from the HdrHistogram in milliseconds")
    func percentiles() {
        var recorder = LatencyRecorder()
        for millisecond in 1...100 { recorder.record(.milliseconds(millisecond)) }
        let p = recorder.percentiles
        #expect(abs(p.p50 - 50) <= 0.1 && abs(p.p90 - 90) <= 0.1 && abs(p.p99 - 99) <= 0.1 && abs(p.max - 100) <= 0.1)
        var other = LatencyRecorder()
        other.record(.seconds(2))
        recorder.merge(other)
        #expect(abs(recorder.percentiles.max - 2000) <= 2)
        #expect(LatencyRecorder().percentiles == Percentiles(p50: 0, p90: 0, p99: 0, max: 0))
    }

    @Test("the JSON report has a stable schema and round-trips")
    func jsonSchema() throws {
        let machine = MachineDescription(hostname: "h", cpuModel: "cpu", cores: 2, kernel: "6.18", engine: "uring",
                                         chunkSizeBytes: 4 << 20, windowChunks: 8, gitCommit: "abc", date: "2026-11-24T00:00:00Z")
        let workloads = [workload("put-1x1MiB", "put", clients: 1, bytes: 1 << 20, figure: 100)]
        let baselines = [BaselineResult(name: "odirect-write", figure: 200, unit: "MB/s")]
        let report = BenchReport(machine: machine, quick: true, workloads: workloads, baselines: baselines,
                                 ratios: RatioRules.ratios(workloads: workloads, baselines: baselines))
        let data = try report.json()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["schema", "machine", "quick", "workloads", "baselines", "ratios"])
        #expect(object["schema"] as? Int == BenchReport.schemaVersion)
        let machineKeys = Set((object["machine"] as? [String: Any] ?? [:]).keys)
        #expect(machineKeys == ["hostname", "cpuModel", "cores", "kernel", "engine", "chunkSizeBytes", "windowChunks", "gitCommit", "date"])
        let firstWorkload = try #require((object["workloads"] as? [[String: Any]])?.first)
        #expect(Set(firstWorkload.keys).isSuperset(of: ["name", "operation", "clients", "objectBytes", "bytes", "seconds", "latencyMs", "errors", "verified"]))
        let decoded = try BenchReport.decode(data)
        #expect(decoded.workloads == report.workloads && decoded.ratios == report.ratios)
        #expect(ReportTable.markdown(decoded).contains("| put-1x1MiB | 100 MB/s |"))
    }

    @Test("a drop below 0.8× of the baseline ratio fails; a rise or a small dip passes")
    func regression() {
        let committed = [Ratio(workload: "put", baseline: "disk", flare: 80, reference: 100),
                         Ratio(workload: "get", baseline: "tcp", flare: 50, reference: 100)]
        let check = RegressionCheck(threshold: 0.8)
        let dropped = [Ratio(workload: "put", baseline: "disk", flare: 60, reference: 100),
                       Ratio(workload: "get", baseline: "tcp", flare: 45, reference: 100)]
        let regressions = check.regressions(current: dropped, committed: committed)
        #expect(regressions.map(\.workload) == ["put"])
        #expect(regressions.first?.description.contains("0.6") == true)
        let rose = [Ratio(workload: "put", baseline: "disk", flare: 95, reference: 100),
                    Ratio(workload: "new", baseline: "disk", flare: 1, reference: 100)]
        #expect(check.regressions(current: rose, committed: committed).isEmpty)
        let nginx = [Ratio(workload: "put", baseline: "nginx-put", flare: 10, reference: 100)]
        #expect(check.regressions(current: [Ratio(workload: "put", baseline: "nginx-put", flare: 1, reference: 100)], committed: nginx).isEmpty)
        // A durable PUT is judged against the durable write only.
        let disk = [Ratio(workload: "put-8x16MiB", baseline: "odirect-write", flare: 80, reference: 100),
                    Ratio(workload: "put-8x16MiB", baseline: "odirect-write-fsync", flare: 80, reference: 100)]
        let fastRawDisk = [Ratio(workload: "put-8x16MiB", baseline: "odirect-write", flare: 80, reference: 200),
                           Ratio(workload: "put-8x16MiB", baseline: "odirect-write-fsync", flare: 80, reference: 100)]
        #expect(check.regressions(current: fastRawDisk, committed: disk).isEmpty)
        let slowPut = disk.map { Ratio(workload: $0.workload, baseline: $0.baseline, flare: 40, reference: $0.reference) }
        #expect(check.regressions(current: slowPut, committed: disk).map(\.baseline) == ["odirect-write-fsync"])
    }

    @Test("in CI a workload fails only when it regresses in 2 of 3 attempts")
    func persistent() {
        let put = RegressionCheck.Regression(workload: "put", baseline: "disk", expected: 0.8, measured: 0.3)
        let get = RegressionCheck.Regression(workload: "get", baseline: "tcp", expected: 0.5, measured: 0.2)
        #expect(RegressionCheck.persistent([[put, get], [get], []], failuresNeeded: 2) == [get])
        #expect(RegressionCheck.persistent([[put], [], []], failuresNeeded: 2).isEmpty)
        #expect(RegressionCheck.persistent([[put]], failuresNeeded: 1) == [put])
    }

    @Test("custom matrices size small workloads by time and large ones by a byte budget")
    func customMatrix() {
        let matrix = BenchMatrix.custom(sizes: [4096, 64 << 20], concurrency: [1, 16], budgetBytes: 1 << 30,
                                        duration: .seconds(3), curlObjectBytes: 1 << 30)
        #expect(matrix.workloads.count == 4)
        #expect(matrix.workloads.filter { $0.objectBytes == 4096 }.allSatisfy { $0.timeLimit == .seconds(3) })
        #expect(matrix.workloads.first { $0.objectBytes == 64 << 20 && $0.clients == 16 }?.objectsPerClient == 1)
        #expect(matrix.smallObjectConcurrency == [1, 16])
        #expect(WorkloadSpec(clients: 16, objectBytes: 64 << 20, objectsPerClient: 1).label == "16x64MiB")
    }

    @Test("chunk-mode keys are valid chunk ids, distinct per client and object")
    func chunkKeys() {
        let spec = WorkloadSpec(clients: 8, objectBytes: 4 << 20, objectsPerClient: 64, asChunks: true)
        var seen = Set<String>()
        for client in 0..<8 {
            for object in 0..<64 {
                let key = spec.key(client: client, object: object)
                #expect(key.count == 32 && key.allSatisfy { "0123456789abcdef".contains($0) })
                seen.insert(key)
            }
        }
        #expect(seen.count == 8 * 64)
    }
}
