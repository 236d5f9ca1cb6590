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
        let count = max(1, objectBytes / Self.objectSize)
        _ = try cluster.storeObjects(count, bytes: Self.objectSize, prefix: "heal/")
        let victim = cluster.dataNodePorts[0]
        let lost = try text("http://127.0.0.1:\(victim)/chunks", signedWith: cluster.credentials).split(separator: "\n").count
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

    /// Client GETs and PUTs while the repair runs at its default bandwidth, beside the same
    /// before the node was killed, on one cluster: `seconds / 2` of sequential curl GETs of the
    /// stored objects (each checked), then as long of 64 MiB PUTs of new keys, before; then the
    /// same from the repair's first copy, each phase ending early when the repair does.
    public struct LoadResult: Codable, Sendable {
        public var getMegabytesPerSecondBefore: Double
        public var getMegabytesPerSecondDuring: Double
        public var putMegabytesPerSecondBefore: Double
        public var putMegabytesPerSecondDuring: Double
        public var repairMegabytesPerSecondDuring: Double
        public var secondsDuring: Double
        public var errors: Int
    }

    public func clientLoad(seconds: Double) throws -> LoadResult {
        let progress = ProgressReporter()
        let cluster = try LocalCluster(options: options)
        defer { cluster.stop() }
        try cluster.start()
        let count = max(1, objectBytes / Self.objectSize)
        let crc = try cluster.storeObjects(count, bytes: Self.objectSize, prefix: "heal/")
        let putFile = "\(options.workDirectory)/flare-bench-repair-put-\(getpid())"
        defer { unlink(putFile) }
        _ = try CurlWorkload.makeFile(at: putFile, bytes: Self.objectSize)
        var errors = 0, gets = 0, puts = 0
        func measure(_ operation: String, for seconds: Double, while going: () throws -> Bool) throws -> Double {
            let started = ContinuousClock.now
            var bytes = 0
            while (ContinuousClock.now - started).secondsValue < seconds, try going() {
                let result: WorkloadResult
                if operation == "get" {
                    result = try CurlWorkload.get(url: "\(cluster.apiURL)/object/heal/\(gets % count)", bytes: Self.objectSize, expected: crc, name: "get")
                    gets += 1
                } else {
                    result = try CurlWorkload.put(file: putFile, bytes: Self.objectSize, url: "\(cluster.apiURL)/object/load/\(puts)", name: "put")
                    puts += 1
                }
                if result.verified { bytes += result.bytes } else { errors += 1 }
            }
            let elapsed = (ContinuousClock.now - started).secondsValue
            return elapsed > 0 ? Double(bytes) / elapsed / 1e6 : 0
        }
        let phase = seconds / 2
        progress.begin("GETs, then PUTs, for \(Int(phase)) s each without repair")
        let getBefore = try measure("get", for: phase) { true }
        let putBefore = try measure("put", for: phase) { true }
        progress.finish("GET \(Int(getBefore)) MB/s, PUT \(Int(putBefore)) MB/s")
        kill(cluster.dataNodeProcesses[0].processIdentifier, SIGKILL)
        progress.begin("killed a data node; waiting for the repair's first copy")
        var repairedAtStart = 0
        for _ in 0..<600 {
            usleep(50_000)
            repairedAtStart = Int(Self.value(try text("\(cluster.apiURL)/metrics"), "flare_api_repair_bytes_total"))
            if repairedAtStart > 0 { break }
        }
        progress.finish("repairing")
        progress.begin("GETs, then PUTs, for up to \(Int(phase)) s each during the repair")
        let started = ContinuousClock.now
        let repairing = {
            let metrics = try text("\(cluster.apiURL)/metrics")
            return Self.value(metrics, "flare_api_repair_pass_chunks_done") < Self.value(metrics, "flare_api_repair_pass_chunks")
        }
        let getDuring = try measure("get", for: phase, while: repairing)
        let putDuring = try measure("put", for: phase, while: repairing)
        let during = (ContinuousClock.now - started).secondsValue
        let repaired = Int(Self.value(try text("\(cluster.apiURL)/metrics"), "flare_api_repair_bytes_total")) - repairedAtStart
        progress.finish("GET \(Int(getDuring)) MB/s, PUT \(Int(putDuring)) MB/s")
        return LoadResult(getMegabytesPerSecondBefore: getBefore, getMegabytesPerSecondDuring: getDuring,
                          putMegabytesPerSecondBefore: putBefore, putMegabytesPerSecondDuring: putDuring,
                          repairMegabytesPerSecondDuring: during > 0 ? Double(repaired) / during / 1e6 : 0,
                          secondsDuring: during, errors: errors)
    }

    /// A counter's value in a Prometheus text page (0 when absent).
    static func value(_ metrics: String, _ series: String) -> Double {
        for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)) ?? 0
        }
        return 0
    }

    /// A GET of `url`; signed as the api signs when `credentials` are given (a data node's route).
    private func text(_ url: String, signedWith credentials: BenchCredentials? = nil) throws -> String {
        let output = try runCommand("/usr/bin/curl", ["-sS", "--max-time", "10"] + (credentials?.signedGET(url) ?? []) + [url])
        return String(decoding: output.stdout, as: UTF8.self)
    }
}
