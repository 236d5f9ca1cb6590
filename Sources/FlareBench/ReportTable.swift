import Foundation

/// The human-readable table of a run (markdown, so it reads the same in a terminal and in
/// bench-results/README.md).
public enum ReportTable {
    public static func markdown(_ report: BenchReport) -> String {
        let machine = report.machine
        var out = "### \(machine.date) · \(machine.hostname) · \(machine.engine)\(report.quick ? " · quick" : "")\n\n"
        out += "\(machine.cpuModel), \(machine.cores) cores, kernel \(machine.kernel), chunk \(machine.chunkSizeBytes / 1024) KiB, "
        // Several settings of copies in one run: each workload knows its own.
        let settings = Array(Set(report.workloads.compactMap(\.replicas))).sorted()
        let replicas = settings.count > 1 ? "replicas " + settings.map(String.init).joined(separator: " and ")
            + " (names ending -r<copies>), " : machine.replicas.map { "replicas \($0), " } ?? ""
        out += "window \(machine.windowChunks), \(replicas)commit \(machine.gitCommit)\n\n"
        out += "| workload | Flare | p50 ms | p90 ms | p99 ms | max ms | errors | verified | ratios |\n"
        out += "|---|--:|--:|--:|--:|--:|--:|:-:|---|\n"
        for workload in report.workloads {
            let ratios = report.ratios.filter { $0.workload == workload.name }
                .map { "\(format($0.value))× \($0.baseline) (\(formatFigure($0.reference)))" }.joined(separator: "; ")
            out += "| \(workload.name) | \(formatFigure(workload.figure)) \(workload.unit) | \(workload.latencyMs.p50) | "
            out += "\(workload.latencyMs.p90) | \(workload.latencyMs.p99) | \(workload.latencyMs.max) | \(workload.errors) | "
            out += "\(workload.verified ? "yes" : "**NO**") | \(ratios) |\n"
        }
        out += "\nBaselines measured in the same run: "
        out += report.baselines.map { "\($0.name) \(formatFigure($0.figure)) \($0.unit)" }.joined(separator: ", ")
        let devices = report.workloads.compactMap { workload in workload.device.map { (workload.name, $0) } }
            + report.baselines.compactMap { baseline in baseline.device.map { (baseline.name, $0) } }
        if !devices.isEmpty {
            out += "\n\nThe disk during each (its block-layer counters): "
            out += devices.map { "\($0.0) — \($0.1.summary)" }.joined(separator: "; ")
        }
        if let rounds = report.rounds, rounds.count > 1 {
            out += "\n\nMedians of \(rounds.count) interleaved rounds (Flare, then the baselines; every other round the other way "
            out += "round). Ratios round by round: "
            out += RoundSummary.pairedRatios(rounds).map { pair in
                "\(pair.workload)/\(pair.baseline) " + pair.values.map { format($0) + "×" }.joined(separator: ", ")
            }.joined(separator: "; ")
        }
        return out + "\n" + S3Report.markdown(report)
    }

    static func formatFigure(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String(format: "%.1f", value)
    }
}

/// Facts about this machine and checkout for the report.
public enum MachineFacts {
    public static func describe(engine: String, chunkSizeBytes: Int, windowChunks: Int, replicas: Int? = nil) -> MachineDescription {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)) } ?? "unknown CPU"
        let kernel = ((try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "unknown").trimmingCharacters(in: .whitespacesAndNewlines)
        let commit = (try? runCommand("/usr/bin/git", ["rev-parse", "--short", "HEAD"], allowFailure: true))
            .map { String(decoding: $0.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        let formatter = ISO8601DateFormatter()
        return MachineDescription(hostname: ProcessInfo.processInfo.hostName, cpuModel: model,
                                  cores: ProcessInfo.processInfo.activeProcessorCount, kernel: kernel, engine: engine,
                                  chunkSizeBytes: chunkSizeBytes, windowChunks: windowChunks, replicas: replicas,
                                  gitCommit: commit.isEmpty ? "unknown" : commit, date: formatter.string(from: Date()))
    }
}
