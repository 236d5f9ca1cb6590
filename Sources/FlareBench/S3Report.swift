import Foundation

/// What an S3 run used and found beside its figures.
public struct S3RunFacts: Codable, Sendable, Equatable {
    /// `boto3`, `botocore`, `awscli`, `python` → version.
    public var versions: [String: String]
    public var partBytes: Int
    public var threadsPerObject: Int
    public var bucket: String
    /// Where downloads landed before they were checked.
    public var downloadDirectory: String
    /// What boto3's first upload request carried: which hashes of the body the api
    /// computes besides its MD5.
    public var uploadRequest: String?
    /// `perf record -g` of the api during a native and an S3 PUT, when asked for.
    public var profiles: [APIProfile]?
    /// `/proc/loadavg` when the rounds began and when they ended: how busy the machine was
    /// with other work (it may be shared).
    public var loadAverage: [String]?

    public init(versions: [String: String], partBytes: Int, threadsPerObject: Int, bucket: String, downloadDirectory: String,
                uploadRequest: String? = nil, profiles: [APIProfile]? = nil) {
        self.versions = versions
        self.partBytes = partBytes
        self.threadsPerObject = threadsPerObject
        self.bucket = bucket
        self.downloadDirectory = downloadDirectory
        self.uploadRequest = uploadRequest
        self.profiles = profiles
    }
}

/// The S3 part of a report: each S3 row against the native row of its shape with the goal,
/// the CPU every side spent per GiB, the clients' own ceiling, and where the api's CPU went.
public enum S3Report {
    /// The S3 section, or "" when the report has no S3 row.
    public static func markdown(_ report: BenchReport) -> String {
        let rows = report.workloads.filter { S3RowName(parsing: $0.baseName) != nil }
        guard !rows.isEmpty else { return "" }
        var out = "\n#### S3 beside the native API\n\n"
        if let facts = report.s3 {
            let versions = ["boto3", "botocore", "awscli", "python"].compactMap { name in facts.versions[name].map { "\(name) \($0)" } }
            out += versions.joined(separator: ", ") + "; multipart threshold and part \(facts.partBytes >> 20) MiB, "
            out += "\(facts.threadsPerObject) at once per object; bucket `\(facts.bucket)`; downloads to \(facts.downloadDirectory), "
            out += "each checked (size, CRC32C) against what was uploaded, then removed.\n"
            if let request = facts.uploadRequest { out += "boto3's upload requests carried: \(request).\n" }
            if let load = facts.loadAverage, load.count == 2 {
                out += "Load average (1, 5, 15 min) when the rounds began: \(load[0]); when they ended: \(load[1]).\n"
            }
            out += "\n"
        }
        let byName = Dictionary(report.workloads.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let perRound = report.rounds.map { RoundSummary.pairedRatios($0) } ?? []
        out += "| S3 workload | S3 | native | S3 ÷ native | per round | goal |\n|---|--:|---|--:|---|:-:|\n"
        for row in rows {
            guard let name = S3RowName(parsing: row.baseName) else { continue }
            let ratio = report.ratios.first { $0.workload == row.name && $0.baseline.hasSuffix("(native)") }
            let rounds = perRound.first { $0.workload == row.name && $0.baseline == ratio?.baseline }?.values ?? []
            let judged = rounds.isEmpty ? ratio?.value : medianValue(rounds)
            let native = ratio.map { "\($0.baseline.replacingOccurrences(of: " (native)", with: "")) \(ReportTable.formatFigure($0.reference)) MB/s" } ?? "not measured"
            let verdict = judged.map { $0 >= name.goal ? "≥ \(format(name.goal))× met" : "≥ \(format(name.goal))× **not met**" } ?? "-"
            out += "| \(row.name) | \(ReportTable.formatFigure(row.figure)) MB/s\(row.verified ? "" : " (**NOT VERIFIED**)") | \(native) | "
            out += "\(ratio.map { format($0.value) + "×" } ?? "-") | \(rounds.map { format($0) + "×" }.joined(separator: ", ")) | \(verdict) |\n"
        }
        if report.rounds != nil { out += "\nThe goal is judged on the median of the rounds' ratios (each round's S3 and native rows ran minutes apart).\n" }
        out += cpuTable(report, rows: rows, byName: byName)
        out += ceilings(report, rows: rows)
        if let profiles = report.s3?.profiles, !profiles.isEmpty { out += profileTable(profiles) }
        return out
    }

    /// CPU seconds per GiB moved of each side, for the S3 rows and the native rows they are
    /// judged against.
    static func cpuTable(_ report: BenchReport, rows: [WorkloadResult], byName: [String: WorkloadResult]) -> String {
        var listed: [WorkloadResult] = []
        for row in rows {
            listed.append(row)
            if let name = S3RowName(parsing: row.baseName),
               let native = byName[name.nativeName + String(row.name.dropFirst(row.baseName.count))],
               !listed.contains(where: { $0.name == native.name }) {
                listed.append(native)
            }
        }
        let measured = listed.filter { $0.cpu != nil }
        guard !measured.isEmpty else { return "" }
        var out = "\nCPU seconds (user + system) per GiB moved, during each (median round's); cores busy = all three ÷ wall time, "
        out += "of \(report.machine.cores). The client of a native row is curl (and, for a GET, flare-bench checking the bytes), "
        out += "or flare-bench's own load generator for the many-object rows; of an S3 row, boto3's threads counted around the "
        out += "transfer, the `aws` process with its start-up, or curl on a presigned URL (made before, not counted).\n\n"
        out += "| workload | MB/s | client | api | data nodes | cores busy |\n|---|--:|--:|--:|--:|--:|\n"
        for row in measured {
            let cpu = row.cpu!
            let perGiB = { (seconds: Double) in String(format: "%.2f", CPUUse.perGiB(seconds, bytes: row.bytes)) }
            out += "| \(row.name) | \(ReportTable.formatFigure(row.figure)) | \(perGiB(cpu.clientSeconds)) | \(perGiB(cpu.apiSeconds)) | "
            out += "\(perGiB(cpu.dataNodeSeconds)) | \(String(format: "%.2f", cpu.coresBusy)) |\n"
        }
        return out
    }

    /// The clients reading the same object from nginx.
    static func ceilings(_ report: BenchReport, rows: [WorkloadResult]) -> String {
        let lines = report.baselines.filter { $0.name.hasPrefix("nginx-s3-") }.map { baseline -> String in
            let flare = rows.first { S3RowName(parsing: $0.name)?.nginxName == baseline.name }
            var line = "- \(baseline.name): \(ReportTable.formatFigure(baseline.figure)) MB/s"
            if let cpu = baseline.clientCPUSeconds, let bytes = flare?.objectBytes {
                line += String(format: ", the client %.2f s CPU per GiB", CPUUse.perGiB(cpu, bytes: bytes))
            }
            if let flare, baseline.figure > 0 { line += "; Flare's \(flare.name) is \(format(flare.figure / baseline.figure))× that" }
            return line
        }
        guard !lines.isEmpty else { return "" }
        return "\nThe clients' own ceiling: the same download from nginx, which sends the file from the page cache (sendfile, "
            + "next to no CPU), medians:\n\n" + lines.joined(separator: "\n") + "\n"
    }

    static func profileTable(_ profiles: [APIProfile]) -> String {
        var out = "\nWhere the api's CPU went (`perf record -g -p <api>`, self time; one more PUT of each after the rounds, "
        out += "perf running, so slower than above):\n\n"
        out += "| PUT | MB/s | api CPU s/GiB | samples (≈) | " + APIProfile.categories.joined(separator: " | ") + " | MD5 s/GiB | top symbols |\n"
        out += "|---|--:|--:|--:|" + APIProfile.categories.map { _ in "--:|" }.joined() + "--:|---|\n"
        for profile in profiles {
            let shares = APIProfile.categories.map { String(format: "%.1f%%", profile.shares[$0] ?? 0) }.joined(separator: " | ")
            let top = profile.top.prefix(6).map { "\($0.symbol) (\($0.thread)) \(String(format: "%.1f", $0.percent))%" }.joined(separator: "; ")
            out += "| \(profile.workload) | \(ReportTable.formatFigure(profile.megabytesPerSecond)) | "
            out += "\(String(format: "%.2f", profile.apiSecondsPerGiB)) | \(profile.samples) | \(shares) | "
            out += "\(String(format: "%.2f", profile.md5SecondsPerGiB)) | \(top) |\n"
        }
        out += "\nMD5 s/GiB: the api's CPU per GiB times MD5's share of its samples, the MD5's cost on the PUT. "
        for profile in profiles where (profile.shares["md5"] ?? 0) > 0 {
            out += String(format: "In %@, %.1f%% of the api's samples were MD5 on its event-loop threads (api-N), of %.1f%% MD5 in all. ",
                          profile.workload, profile.md5OnLoopThreads, profile.shares["md5"] ?? 0)
        }
        let events = Set(profiles.map(\.event)).sorted().joined(separator: ", ")
        out += "perf sampled `\(events)`\(events.contains("cpu-clock") ? " (no hardware PMU here: shares of CPU time, not of cycles)" : "").\n"
        return out
    }

    static func medianValue(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
