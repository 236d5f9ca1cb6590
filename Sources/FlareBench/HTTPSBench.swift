import FlareCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One large object through curl over HTTPS, to Flare's api and to nginx with the same
/// certificate, in alternating rounds; nginx over plain HTTP beside them shows what TLS itself
/// costs on this machine. Every GET is checked against the file's CRC32C.
public struct HTTPSBench {
    public struct Row: Sendable {
        public var name: String
        public var megabytesPerSecond: [Double]
        /// The api's CPU seconds per GiB moved (Flare's rows only).
        public var apiCPUPerGiB: [Double]
        public var median: Double { Self.median(megabytesPerSecond) }
        public var medianCPU: Double? { apiCPUPerGiB.isEmpty ? nil : Self.median(apiCPUPerGiB) }

        static func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
    }

    public let options: LocalCluster.Options
    public let objectBytes: Int
    public let rounds: Int

    public init(options: LocalCluster.Options, objectBytes: Int, rounds: Int) {
        self.options = options
        self.objectBytes = objectBytes
        self.rounds = rounds
    }

    public func run() throws -> [Row] {
        let directory = try makeTemporaryDirectory(in: options.workDirectory, prefix: "https-bench-")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try BenchCertificates.make(in: directory)
        var clusterOptions = options
        clusterOptions.tls = certificates
        let cluster = try LocalCluster(options: clusterOptions)
        try cluster.start()
        defer { cluster.stop() }
        guard let nginx = try NginxServer.startIfInstalled(directory: directory, tls: certificates), let tlsPort = nginx.tlsPort else {
            throw BenchError("nginx is not installed (make deps installs nginx-light): nothing to compare with")
        }
        defer { nginx.stop() }
        let file = "\(directory)/object"
        let crc = try CurlWorkload.makeFile(at: file, bytes: objectBytes)
        let trust = ["--cacert", certificates.caFile]
        var rows: [String: Row] = [:]
        let order = ["flare-https", "nginx-https", "nginx-http"]
        let progress = ProgressReporter()
        for round in 1...rounds {
            for target in round % 2 == 1 ? order : order.reversed() {
                let base: String, curlOptions: [String]
                switch target {
                case "flare-https": (base, curlOptions) = ("\(cluster.apiURL)/object/https-r\(round)", trust)
                case "nginx-https": (base, curlOptions) = ("https://127.0.0.1:\(tlsPort)/bench/https-r\(round)", trust)
                default: (base, curlOptions) = ("http://127.0.0.1:\(nginx.port)/bench/http-r\(round)", [])
                }
                progress.begin("round \(round): \(target) PUT and GET of \(ByteSize.format(objectBytes))")
                for operation in ["put", "get"] {
                    let meter = target.hasPrefix("flare") ? cluster.cpuMeter : nil
                    let start = meter?.snapshot()
                    let result = operation == "put"
                        ? try CurlWorkload.put(file: file, bytes: objectBytes, url: base, name: "\(target)-put", curlOptions: curlOptions)
                        : try CurlWorkload.get(url: base, bytes: objectBytes, expected: crc, name: "\(target)-get", curlOptions: curlOptions)
                    guard result.verified else { throw BenchError("\(target) \(operation) of round \(round) failed or read back other bytes") }
                    var row = rows["\(target)-\(operation)"] ?? Row(name: "\(target)-\(operation)", megabytesPerSecond: [], apiCPUPerGiB: [])
                    row.megabytesPerSecond.append(result.megabytesPerSecond)
                    if let meter, let start {
                        row.apiCPUPerGiB.append(CPUUse.perGiB(meter.use(since: start).apiSeconds, bytes: objectBytes))
                    }
                    rows[row.name] = row
                }
                progress.finish("\(target): PUT \(Int(rows["\(target)-put"]!.megabytesPerSecond.last!)) MB/s, GET \(Int(rows["\(target)-get"]!.megabytesPerSecond.last!)) MB/s")
            }
        }
        return ["put", "get"].flatMap { operation in order.compactMap { rows["\($0)-\(operation)"] } }
    }
}
