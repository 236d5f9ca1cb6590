import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a process's CPU went during one workload: `perf record -g -p <pid>` around it,
/// then `perf report`'s self time per symbol, and the shares of the hashes that matter on
/// the S3 path (MD5 for the ETag, SHA-256 for a hex `x-amz-content-sha256`, CRC32 for
/// `x-amz-checksum-crc32`, CRC32C for the chunks).
public struct APIProfile: Codable, Sendable, Equatable {
    /// One symbol's self time on one thread.
    public struct Entry: Codable, Sendable, Equatable {
        public var percent: Double
        /// The thread's name (`api-0` is the first event loop).
        public var thread: String
        public var object: String
        public var symbol: String
    }

    public var workload: String
    public var megabytesPerSecond: Double
    /// The api's CPU seconds per GiB during it (from `/proc`, outside perf).
    public var apiSecondsPerGiB: Double
    public var samples: Int
    /// What perf sampled (`cpu-clock` in a VM without a hardware PMU: shares of CPU time;
    /// `cycles` where there is one).
    public var event: String
    /// `md5`, `sha256`, `crc32`, `crc32c`, `kernel` → % of the process's samples.
    public var shares: [String: Double]
    /// The symbols with the most self time, largest first.
    public var top: [Entry]
    /// MD5's share of the process's samples on its event-loop threads (`api-<n>`), where
    /// it holds up every other request of that loop.
    public var md5OnLoopThreads: Double

    /// The api's CPU seconds per GiB spent in MD5.
    public var md5SecondsPerGiB: Double { apiSecondsPerGiB * (shares["md5"] ?? 0) / 100 }

    /// The categories counted in ``shares``, in the order the report prints them.
    public static let categories = ["md5", "sha256", "crc32", "crc32c", "kernel"]

    /// A category of `entry`, or `nil`. BoringSSL's symbols (swift-crypto) are
    /// `…md5_block_asm_data_order`, `…sha256_block_data_order_shaext`; ISA-L's are
    /// `crc32_iscsi_*` (CRC32C) and `crc32_gzip_refl_*` (CRC32).
    static func category(of entry: Entry) -> String? {
        let symbol = entry.symbol.lowercased()
        if symbol.contains("md5") { return "md5" }
        if symbol.contains("sha256") { return "sha256" }
        if symbol.contains("crc32_iscsi") || symbol.contains("crc32c") { return "crc32c" }
        if symbol.contains("crc32") { return "crc32" }
        if entry.object.hasPrefix("[kernel") { return "kernel" }
        return nil
    }

    /// Parses `perf report --stdio --no-children --sort comm,dso,symbol -g none`: the sample
    /// count from its `# Samples: 12K of event …` header, then lines
    /// `  9.87%  api-0  api  [.] symbol` (thread, object, symbol).
    public static func parse(report: String, workload: String, megabytesPerSecond: Double, apiSecondsPerGiB: Double,
                             topCount: Int = 12) -> APIProfile {
        var samples = 0
        var event = ""
        var entries: [Entry] = []
        for raw in report.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("# Samples:") {
                samples += parseCount(line.dropFirst("# Samples:".count).split(separator: " ").first.map(String.init) ?? "")
                if let open = line.firstIndex(of: "'"), let close = line.lastIndex(of: "'"), open < close {
                    event = String(line[line.index(after: open)..<close].prefix { $0 != ":" })
                }
                continue
            }
            guard !line.hasPrefix("#"), let percentEnd = line.firstIndex(of: "%"),
                  let percent = Double(line[..<percentEnd]) else { continue }
            let fields = line[line.index(after: percentEnd)...].split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
            guard fields.count == 4 else { continue }
            // `[.] name` or `[k] name`, then perf's IPC columns (`-      -`) after a gap.
            var symbol = Substring(fields[3])
            if symbol.hasPrefix("["), let close = symbol.firstIndex(of: "]") { symbol = symbol[symbol.index(after: close)...] }
            symbol = symbol.drop { $0 == " " }
            if let gap = symbol.range(of: "  ") { symbol = symbol[..<gap.lowerBound] }
            entries.append(Entry(percent: percent, thread: String(fields[0]), object: String(fields[1]), symbol: String(symbol)))
        }
        var shares = Dictionary(uniqueKeysWithValues: categories.map { ($0, 0.0) })
        for entry in entries {
            if let category = category(of: entry) { shares[category, default: 0] += entry.percent }
        }
        let top = entries.sorted { $0.percent > $1.percent }.prefix(topCount)
        let onLoops = entries.filter { category(of: $0) == "md5" && isLoopThread($0.thread) }.reduce(0) { $0 + $1.percent }
        return APIProfile(workload: workload, megabytesPerSecond: megabytesPerSecond, apiSecondsPerGiB: apiSecondsPerGiB,
                          samples: samples, event: event, shares: shares, top: Array(top), md5OnLoopThreads: onLoops)
    }

    /// The api names its event-loop threads `api-0`, `api-1`, … (APINodeService).
    static func isLoopThread(_ name: String) -> Bool {
        name.hasPrefix("api-") && !name.dropFirst(4).isEmpty && name.dropFirst(4).allSatisfy(\.isNumber)
    }

    /// `12K` → 12000, `3M` → 3000000, `845` → 845.
    static func parseCount(_ text: String) -> Int {
        let multiplier = text.hasSuffix("K") ? 1000 : text.hasSuffix("M") ? 1_000_000 : 1
        let digits = multiplier == 1 ? text : String(text.dropLast())
        return Int((Double(digits) ?? 0) * Double(multiplier))
    }
}

/// Runs `perf record -g` on one process while a workload runs.
public enum APIProfiler {
    /// Why profiling cannot run here, or `nil`.
    public static func unavailableReason() -> String? {
        which("perf") == nil ? "perf is not installed (apt-get install linux-perf)" : nil
    }

    /// `perf record -g -p pid -o file` around `body`, then the report's text.
    public static func record<T>(pid: Int32, file: String, _ body: () throws -> T) throws -> (result: T, report: String) {
        guard let perf = which("perf") else { throw BenchError("perf is not installed") }
        let log = file + ".log"
        let recorder = try ChildProcess.start(perf, ["record", "-g", "-p", "\(pid)", "-o", file], log: log)
        // perf attaches within a few hundred milliseconds; it prints nothing until it stops.
        usleep(500_000)
        guard recorder.isRunning else {
            throw BenchError("perf record exited at once: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        let result: T
        do {
            result = try body()
        } catch {
            ChildProcess.stop(recorder, signal: SIGINT)
            throw error
        }
        ChildProcess.stop(recorder, signal: SIGINT, graceSeconds: 30)
        let report = try runCommand(perf, ["report", "-i", file, "--stdio", "--no-children", "--sort", "comm,dso,symbol",
                                           "-g", "none", "--percent-limit", "0.2"])
        return (result, String(decoding: report.stdout, as: UTF8.self))
    }
}
