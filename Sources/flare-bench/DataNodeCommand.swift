import ArgumentParser
import FlareBench
import FlareCore
import Foundation

struct DataNode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datanode",
        abstract: "Bench one data node: concurrent 4 MiB chunk PUTs and GETs beside fio and loopback TCP.",
        discussion: "With --strace, `strace -f -c -p <datanode>` runs during the PUT phase and its summary is saved.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Concurrent clients.")
    var clients = 8

    @Option(name: .customLong("chunks-per-client"), help: "4 MiB chunks each client writes and reads.")
    var chunksPerClient = 64

    @Option(help: "Rounds of Flare-then-baselines (alternating order); the report shows medians and each round's ratios.")
    var rounds = 3

    @Option(name: .customLong("node-log"), help: "Write the data node's log at info level (a line per request, with its duration) to this file.")
    var nodeLog: String?

    @Flag(help: "Capture strace -f -c of the data node during the PUT phase.")
    var strace = false

    func validate() throws {
        if rounds < 1 || rounds > 20 { throw ValidationError("--rounds must be 1…20") }
        if clients < 1 || chunksPerClient < 1 { throw ValidationError("--clients and --chunks-per-client must be at least 1") }
    }

    func run() async throws {
        ChildProcess.stopChildrenOnSignal()
        let report = try await DataNodeBench(binDirectory: common.resolvedBinDirectory, workDirectory: common.workDirectory,
                                             engine: common.io, clients: clients, chunksPerClient: chunksPerClient, rounds: rounds,
                                             straceOutput: strace ? "\(common.resultsDirectory)/strace-datanode-put-\(common.io).txt" : nil,
                                             nodeLog: nodeLog).run()
        try publish(report, common: common, kind: "-datanode")
        let failed = report.workloads.filter { !$0.verified }
        if !failed.isEmpty { throw BenchFailure("workloads with errors or wrong bytes: " + failed.map(\.name).joined(separator: ", ")) }
    }
}
