import FlareCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a reader of a large object pays when one of the nodes holding it hangs: one object
/// with `replicas` copies per chunk is read with curl with every node up, with a data node
/// SIGSTOPped a quarter of the way into the transfer (its sockets stay open and silent, as
/// a hung machine's would), and again while it is still stopped (by then the api knows).
/// Each read reports its throughput, the longest wait between two reads of the body (the
/// stall the client sees) and whether the bytes were right.
public struct FailoverBench {
    public struct Result: Codable, Sendable {
        public var scenario: String
        public var megabytesPerSecond: Double
        public var longestStallSeconds: Double
        public var seconds: Double
        public var verified: Bool
    }

    let options: LocalCluster.Options
    let objectBytes: Int

    public init(options: LocalCluster.Options, objectBytes: Int) {
        precondition(options.replicas >= 2, "a failover needs a second copy")
        self.options = options
        self.objectBytes = objectBytes
    }

    public func run() throws -> [Result] {
        let progress = ProgressReporter()
        let cluster = try LocalCluster(options: options)
        defer { cluster.stop() }
        try cluster.start()
        let file = "\(options.workDirectory)/flare-bench-failover-\(getpid())"
        defer { unlink(file) }
        let expected = try CurlWorkload.makeFile(at: file, bytes: objectBytes)
        let url = "\(cluster.apiURL)/object/failover"
        progress.begin("PUT \(ByteSize.format(objectBytes)) with \(options.replicas) copies of every chunk")
        let put = try CurlWorkload.put(file: file, bytes: objectBytes, url: url, name: "put")
        guard put.verified else { throw BenchError("the PUT of the object to read failed") }
        progress.finish("stored")

        let hung = cluster.dataNodeProcesses[0].processIdentifier
        defer { kill(hung, SIGCONT) }
        var results: [Result] = []
        func read(_ scenario: String, onBytes: (Int) -> Void = { _ in }) throws {
            progress.begin("GET, \(scenario)")
            let (get, gap) = try CurlWorkload.timedGet(url: url, bytes: objectBytes, expected: expected, name: "get", onBytes: onBytes)
            let result = Result(scenario: scenario, megabytesPerSecond: get.figure, longestStallSeconds: gap,
                                seconds: get.seconds, verified: get.verified)
            progress.finish("\(scenario): \(Int(get.figure)) MB/s, longest stall \(String(format: "%.2f", gap)) s\(get.verified ? "" : ", WRONG or short")")
            results.append(result)
        }
        try read("every node up")
        var stopped = false
        try read("a data node SIGSTOPped a quarter of the way in") { received in
            if !stopped && received >= objectBytes / 4 {
                stopped = true
                kill(hung, SIGSTOP)
            }
        }
        try read("the same node still stopped (the api knows it)")
        kill(hung, SIGCONT)
        return results
    }
}
