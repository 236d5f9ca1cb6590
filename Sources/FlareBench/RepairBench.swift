import FlareCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Time to heal: a local cluster with replicas 2 stores `objectBytes` in 64 MiB objects, one
/// data node is killed (SIGKILL) and the api's repair copies every chunk it held from the
/// survivors. Reported: how long until the first copy was seen done (the node must be found
/// down, then `--repair-after` pass), and the repair's throughput from then to the last
/// copy (metrics are polled every 50 ms, so it reads a copy or two high) — beside fio's durable write on the same disk in the same run, since a
/// repair is a read, a transfer and a durable write per chunk.
public struct RepairBench {
    public struct Result: Codable, Sendable {
        public var lostChunks: Int
        public var repairedBytes: Int
        public var secondsToStart: Double
        public var secondsRepairing: Double
        public var megabytesPerSecond: Double
        public var fioDurableWriteMegabytesPerSecond: Double
        public var complete: Bool
    }

    let options: LocalCluster.Options
    let objectBytes: Int
    static let objectSize = 64 << 20

    /// `options.apiArguments` should set `--repair-after`, `--node-down-after` and the
    /// repair's concurrency; replicas must be at least 2.
    public init(options: LocalCluster.Options, objectBytes: Int) {
        precondition(options.replicas >= 2, "a repair needs a surviving copy")
        self.options = options
        self.objectBytes = objectBytes
    }

    public func run() throws -> Result {
        let progress = ProgressReporter()
        let disk = try DiskBaseline.measure(directory: options.workDirectory, bytes: 1 << 30)
        let fio = disk.first { $0.name == "odirect-write-fsync" }?.figure ?? 0
        let cluster = try LocalCluster(options: options)
        defer { cluster.stop() }
        try cluster.start()
        let file = "\(options.workDirectory)/flare-bench-repair-\(getpid())"
        defer { unlink(file) }
        _ = try CurlWorkload.makeFile(at: file, bytes: Self.objectSize)
        let count = max(1, objectBytes / Self.objectSize)
        progress.begin("storing \(count) × 64 MiB with \(options.replicas) copies of every chunk")
        for index in 0..<count {
            let put = try CurlWorkload.put(file: file, bytes: Self.objectSize, url: "\(cluster.apiURL)/object/heal/\(index)", name: "put")
            guard put.verified else { throw BenchError("PUT \(index) of the objects to heal failed") }
        }
        progress.finish("stored \(ByteSize.format(count * Self.objectSize))")
        let victim = cluster.dataNodePorts[0]
        let lost = try text("http://127.0.0.1:\(victim)/chunks").split(separator: "\n").count
        progress.begin("killing the data node on :\(victim), which held \(lost) chunks; waiting for the repair")
        let killed = ContinuousClock.now
        kill(cluster.dataNodeProcesses[0].processIdentifier, SIGKILL)
        var first: ContinuousClock.Instant?
        var done = 0, bytes = 0
        let deadline = killed + .seconds(900)
        while done < lost && ContinuousClock.now < deadline {
            usleep(50_000)
            let metrics = try text("\(cluster.apiURL)/metrics")
            done = Int(Self.value(metrics, "flare_api_repair_copies_total{result=\"done\"}"))
            bytes = Int(Self.value(metrics, "flare_api_repair_bytes_total"))
            if first == nil && done > 0 { first = ContinuousClock.now }
        }
        let end = ContinuousClock.now
        let repairing = first.map { (end - $0).secondsValue } ?? 0
        progress.finish("\(done) of \(lost) chunks repaired")
        return Result(lostChunks: lost, repairedBytes: bytes, secondsToStart: first.map { ($0 - killed).secondsValue } ?? -1,
                      secondsRepairing: repairing, megabytesPerSecond: repairing > 0 ? Double(bytes) / repairing / 1e6 : 0,
                      fioDurableWriteMegabytesPerSecond: fio, complete: done >= lost)
    }

    /// A counter's value in a Prometheus text page (0 when absent).
    static func value(_ metrics: String, _ series: String) -> Double {
        for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)) ?? 0
        }
        return 0
    }

    private func text(_ url: String) throws -> String {
        let output = try runCommand("/usr/bin/curl", ["-sS", "--max-time", "10", url])
        return String(decoding: output.stdout, as: UTF8.self)
    }
}
