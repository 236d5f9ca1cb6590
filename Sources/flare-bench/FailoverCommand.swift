import ArgumentParser
import FlareBench
import FlareCore
import Foundation

struct Failover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What a large GET pays when a data node holding it hangs (SIGSTOP), with replicas 2.",
        discussion: """
        Starts a local cluster with --replicas, stores one object, and reads it with curl three times: every node \
        up; a data node SIGSTOPped a quarter of the way in; the node still stopped. Reports throughput and the \
        longest stall between two reads. Writes bench-results/failover-<engine>.md unless --no-record.
        """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Size of the object read.")
    var object = "1GiB"

    @Option(help: "Copies of every chunk (at least 2).")
    var replicas = 2

    @Option(name: .customLong("datanode-timeout"), help: "The api's --datanode-timeout, seconds (its default: 10).")
    var datanodeTimeout: Int?

    func validate() throws {
        guard (ByteSize.parse(object) ?? 0) > 0 else { throw ValidationError("--object: use a size like 1GiB") }
        guard (2...3).contains(replicas) else { throw ValidationError("--replicas must be 2 or 3 (three data nodes)") }
        if let datanodeTimeout, datanodeTimeout < 1 { throw ValidationError("--datanode-timeout must be at least 1") }
    }

    func run() async throws {
        ChildProcess.stopChildrenOnSignal()
        var options = LocalCluster.Options(binDirectory: common.resolvedBinDirectory, workDirectory: common.workDirectory)
        options.engine = common.io
        options.replicas = replicas
        if let datanodeTimeout { options.apiArguments = ["--datanode-timeout", "\(datanodeTimeout)"] }
        let bytes = ByteSize.parse(object)!
        let results = try FailoverBench(options: options, objectBytes: bytes).run()
        let timeout = datanodeTimeout.map { "\($0) s" } ?? "10 s (default)"
        var table = "### failover · \(ISO8601DateFormatter().string(from: Date())) · \(common.io) · GET of \(ByteSize.format(bytes)), "
        table += "replicas \(replicas), chunk \(options.chunkSize), window \(options.window), --datanode-timeout \(timeout)\n\n"
        table += "| scenario | GET | longest stall | seconds | bytes right |\n|---|--:|--:|--:|:-:|\n"
        for result in results {
            table += "| \(result.scenario) | \(Int(result.megabytesPerSecond)) MB/s | \(String(format: "%.2f", result.longestStallSeconds)) s | "
            table += "\(String(format: "%.1f", result.seconds)) | \(result.verified ? "yes" : "**NO**") |\n"
        }
        try common.publishTable(table, as: "failover")
        let wrong = results.filter { !$0.verified }
        if !wrong.isEmpty { throw BenchFailure("reads with wrong or missing bytes: " + wrong.map(\.scenario).joined(separator: "; ")) }
    }
}
