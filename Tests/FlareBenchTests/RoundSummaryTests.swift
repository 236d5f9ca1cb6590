@testable import FlareBench
import Foundation
import Testing

@Suite("flare-bench: interleaved rounds fold into medians")
struct RoundSummaryTests {
    static func round(_ index: Int, put: Double, get: Double, write: Double, read: Double, errors: Int = 0, verified: Bool = true) -> BenchRound {
        var putResult = workload("chunk-put-8x4MiB", "put", clients: 8, bytes: 4 << 20, figure: put)
        putResult.errors = errors
        putResult.verified = verified
        let getResult = workload("chunk-get-8x4MiB", "get", clients: 8, bytes: 4 << 20, figure: get)
        return BenchRound(round: index, workloads: [putResult, getResult], baselines: [
            BaselineResult(name: "tcp-loopback-8", figure: 4000, unit: "MB/s"),
            BaselineResult(name: "odirect-write", figure: write, unit: "MB/s"),
            BaselineResult(name: "odirect-read", figure: read, unit: "MB/s"),
        ])
    }

    @Test("each workload and baseline is its median round; errors add up; one bad round unverifies the whole")
    func medians() throws {
        let rounds = [
            Self.round(1, put: 300, get: 1000, write: 600, read: 3000),
            Self.round(2, put: 500, get: 1200, write: 400, read: 1500, errors: 2, verified: false),
            Self.round(3, put: 400, get: 1100, write: 500, read: 2000),
        ]
        let workloads = RoundSummary.medianWorkloads(rounds)
        #expect(workloads.map(\.name) == ["chunk-put-8x4MiB", "chunk-get-8x4MiB"])
        #expect(abs(workloads[0].figure - 400) < 1e-6)
        #expect(abs(workloads[1].figure - 1100) < 1e-6)
        #expect(workloads[0].errors == 2 && !workloads[0].verified)
        #expect(workloads[1].errors == 0 && workloads[1].verified)
        let baselines = Dictionary(uniqueKeysWithValues: RoundSummary.medianBaselines(rounds).map { ($0.name, $0.figure) })
        #expect(baselines == ["tcp-loopback-8": 4000, "odirect-write": 500, "odirect-read": 2000])
        let paired = RoundSummary.pairedRatios(rounds)
        let put = try #require(paired.first { $0.workload == "chunk-put-8x4MiB" && $0.baseline == "odirect-write" })
        #expect(put.values.map { ($0 * 100).rounded() / 100 } == [0.5, 1.25, 0.8])
        let get = try #require(paired.first { $0.workload == "chunk-get-8x4MiB" && $0.baseline == "odirect-read" })
        #expect(get.values.map { ($0 * 100).rounded() / 100 } == [0.33, 0.8, 0.55])
    }

    @Test("an even count takes the lower middle; nothing in, nothing out")
    func evenAndEmpty() {
        #expect(RoundSummary.medianElement([4.0, 1.0, 3.0, 2.0], by: { $0 }) == 2.0)
        #expect(RoundSummary.medianElement([Double](), by: { $0 }) == nil)
        #expect(RoundSummary.medianWorkloads([]).isEmpty)
    }

    @Test("the rounds survive the JSON round trip and show in the table; single-round reports stay as they were")
    func report() throws {
        let rounds = [Self.round(1, put: 300, get: 1000, write: 600, read: 3000), Self.round(2, put: 500, get: 1200, write: 400, read: 1500)]
        let machine = MachineFacts.describe(engine: "uring", chunkSizeBytes: 4 << 20, windowChunks: 0)
        let workloads = RoundSummary.medianWorkloads(rounds), baselines = RoundSummary.medianBaselines(rounds)
        let report = BenchReport(machine: machine, quick: false, workloads: workloads, baselines: baselines,
                                 ratios: RatioRules.ratios(workloads: workloads, baselines: baselines), rounds: rounds)
        let decoded = try BenchReport.decode(try report.json())
        #expect(decoded.rounds == rounds)
        let table = ReportTable.markdown(report)
        #expect(table.contains("Medians of 2 interleaved rounds"))
        #expect(table.contains("chunk-put-8x4MiB/odirect-write 0.5×, 1.25×"))
        var single = report
        single.rounds = nil
        #expect(!ReportTable.markdown(single).contains("interleaved"))
        #expect(try BenchReport.decode(try single.json()).rounds == nil)
    }
}
