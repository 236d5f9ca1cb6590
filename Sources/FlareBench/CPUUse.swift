import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The CPU time (user + system) each side spent during one workload: the client, the api
/// and the data nodes. On a machine of a few cores it tells which of them bounds a figure:
/// a client near one core of its own, or all of them together near every core.
public struct CPUUse: Codable, Sendable, Equatable {
    /// The client's seconds: for an S3 row the driver's own count around the transfer (boto3's
    /// threads; an `aws` process with its start-up); otherwise flare-bench and the children
    /// it reaped meanwhile (curl).
    public var clientSeconds: Double
    public var apiSeconds: Double
    public var dataNodeSeconds: Double
    /// How long the workload took (the cores-busy figure divides by it).
    public var wallSeconds: Double

    public init(clientSeconds: Double, apiSeconds: Double, dataNodeSeconds: Double, wallSeconds: Double) {
        self.clientSeconds = clientSeconds
        self.apiSeconds = apiSeconds
        self.dataNodeSeconds = dataNodeSeconds
        self.wallSeconds = wallSeconds
    }

    /// Cores kept busy on average by the three together.
    public var coresBusy: Double { wallSeconds > 0 ? (clientSeconds + apiSeconds + dataNodeSeconds) / wallSeconds : 0 }

    /// `seconds` per GiB of `bytes` moved.
    public static func perGiB(_ seconds: Double, bytes: Int) -> Double {
        bytes > 0 ? seconds / (Double(bytes) / Double(1 << 30)) : 0
    }
}

/// Reads the CPU time of a cluster's processes (from `/proc/<pid>/stat`) and of flare-bench
/// with its reaped children (`getrusage`), before and after a workload.
public struct CPUMeter: Sendable {
    public struct Snapshot: Sendable {
        var client: Double
        var api: Double
        var dataNodes: Double
        var taken: ContinuousClock.Instant
    }

    let apiPID: Int32
    let dataNodePIDs: [Int32]

    public init(apiPID: Int32, dataNodePIDs: [Int32]) {
        self.apiPID = apiPID
        self.dataNodePIDs = dataNodePIDs
    }

    public func snapshot() -> Snapshot {
        Snapshot(client: Self.ownSeconds(), api: Self.processSeconds(apiPID) ?? 0,
                 dataNodes: dataNodePIDs.reduce(0) { $0 + (Self.processSeconds($1) ?? 0) }, taken: .now)
    }

    /// What was spent since `start`; `clientSeconds` replaces the client's figure when the
    /// client counted its own (the S3 driver).
    public func use(since start: Snapshot, clientSeconds: Double? = nil) -> CPUUse {
        let now = snapshot()
        return CPUUse(clientSeconds: clientSeconds ?? max(0, now.client - start.client), apiSeconds: max(0, now.api - start.api),
                      dataNodeSeconds: max(0, now.dataNodes - start.dataNodes), wallSeconds: (now.taken - start.taken).secondsValue)
    }

    /// utime + stime of a whole process (every thread), in seconds; `nil` when it is gone.
    static func processSeconds(_ pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return parseStat(stat).map { Double($0) / Double(sysconf(Int32(_SC_CLK_TCK))) }
    }

    /// utime + stime in clock ticks from a `/proc/<pid>/stat` line: fields 14 and 15, counted
    /// after the command name's closing parenthesis (the name may hold spaces and parentheses).
    static func parseStat(_ line: String) -> Int? {
        guard let close = line.lastIndex(of: ")") else { return nil }
        // After ")": field 3 (state) is the first; utime and stime are fields 14 and 15.
        let fields = line[line.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return user + system
    }

    /// flare-bench's own CPU plus that of its children that ended and were reaped.
    static func ownSeconds() -> Double {
        var own = rusage(), children = rusage()
        getrusage(RUSAGE_SELF.rawValue, &own)
        getrusage(RUSAGE_CHILDREN.rawValue, &children)
        return seconds(own.ru_utime) + seconds(own.ru_stime) + seconds(children.ru_utime) + seconds(children.ru_stime)
    }

    private static func seconds(_ value: timeval) -> Double {
        Double(value.tv_sec) + Double(value.tv_usec) / 1e6
    }
}
