import Foundation

/// What one workload measured.
public struct WorkloadResult: Codable, Sendable, Equatable {
    /// e.g. `put-16x64MiB`.
    public var name: String
    /// `put` or `get`.
    public var operation: String
    public var clients: Int
    public var objectBytes: Int
    public var objects: Int
    public var bytes: Int
    public var seconds: Double
    public var latencyMs: Percentiles
    public var errors: Int
    /// Every byte read back matched what was written.
    public var verified: Bool
    /// What the disk did meanwhile, where the bench measured it.
    public var device: DeviceActivity? = nil
    /// Copies per chunk of the cluster measured, when one run measured several settings
    /// (`--replicas 1,2`); the name of every setting but the first ends in `-r<copies>`.
    public var replicas: Int? = nil
    /// The CPU the client, the api and the data nodes spent meanwhile, where the bench
    /// measured it (its own cluster's workloads).
    public var cpu: CPUUse? = nil

    /// The name without a `-r<copies>` suffix: the same workload in the run's first setting.
    public var baseName: String {
        guard let replicas, name.hasSuffix("-r\(replicas)") else { return name }
        return String(name.dropLast("-r\(replicas)".count))
    }

    public var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / seconds / 1e6 : 0 }
    public var operationsPerSecond: Double { seconds > 0 ? Double(objects) / seconds : 0 }
    /// Small objects are judged by operations per second, large ones by throughput.
    public var isSmall: Bool { objectBytes < 256 * 1024 }
    /// The figure that matters for this workload (MB/s, or ops/s for small objects).
    public var figure: Double { isSmall ? operationsPerSecond : megabytesPerSecond }
    public var unit: String { isSmall ? "ops/s" : "MB/s" }
}

/// Latency percentiles in milliseconds.
public struct Percentiles: Codable, Sendable, Equatable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double

    /// One observation of `seconds` (a single-object workload).
    public static func single(_ seconds: Double) -> Percentiles {
        let milliseconds = (seconds * 100_000).rounded() / 100
        return Percentiles(p50: milliseconds, p90: milliseconds, p99: milliseconds, max: milliseconds)
    }

    public init(p50: Double, p90: Double, p99: Double, max: Double) {
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.max = max
    }
}

/// A same-run measurement of what the machine (or a reference server) does.
public struct BaselineResult: Codable, Sendable, Equatable {
    /// e.g. `tcp-loopback`, `odirect-write`, `nginx-put-16x64MiB`.
    public var name: String
    public var figure: Double
    public var unit: String
    /// What the disk did meanwhile, where the bench measured it.
    public var device: DeviceActivity? = nil
    /// The client's CPU seconds (user + system), for a client's own ceiling
    /// (`nginx-s3-get-boto3-1GiB`).
    public var clientCPUSeconds: Double? = nil
}

/// A Flare figure next to the baseline it is judged against.
public struct Ratio: Codable, Sendable, Equatable {
    public var workload: String
    public var baseline: String
    public var flare: Double
    public var reference: Double
    public var value: Double

    public init(workload: String, baseline: String, flare: Double, reference: Double) {
        self.workload = workload
        self.baseline = baseline
        self.flare = flare
        self.reference = reference
        self.value = reference > 0 ? flare / reference : 0
    }
}

/// The machine and settings a run was made on.
public struct MachineDescription: Codable, Sendable {
    public var hostname: String
    public var cpuModel: String
    public var cores: Int
    public var kernel: String
    public var engine: String
    public var chunkSizeBytes: Int
    public var windowChunks: Int
    /// Copies per chunk of the cluster flare-bench started (`nil`: a `--target`, or a run
    /// from before replicas).
    public var replicas: Int?
    public var gitCommit: String
    public var date: String
}

/// Everything one `flare-bench` run produced; written as JSON to bench-results/.
public struct BenchReport: Codable, Sendable {
    public static let schemaVersion = 1
    public var schema = BenchReport.schemaVersion
    public var machine: MachineDescription
    public var quick: Bool
    public var workloads: [WorkloadResult]
    public var baselines: [BaselineResult]
    public var ratios: [Ratio]
    /// The rounds of an interleaved run (`flare-bench datanode --rounds`); the figures above
    /// are then their medians. Absent in single-round reports.
    public var rounds: [BenchRound]?
    /// What an S3 run used and found beside its figures (``S3RunFacts``); absent otherwise.
    public var s3: S3RunFacts? = nil

    public init(machine: MachineDescription, quick: Bool, workloads: [WorkloadResult], baselines: [BaselineResult], ratios: [Ratio],
                rounds: [BenchRound]? = nil) {
        self.machine = machine
        self.quick = quick
        self.workloads = workloads
        self.baselines = baselines
        self.ratios = ratios
        self.rounds = rounds
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data) throws -> BenchReport {
        try JSONDecoder().decode(BenchReport.self, from: data)
    }
}
