import ArgumentParser
import FlareBench
import FlareCore
import Foundation

struct Repair: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time to heal: kill a data node holding a share of the objects and time the api's repair, beside fio's durable write.",
        discussion: """
        Starts a local cluster with --replicas 2 (--repair-after 1, --node-down-after 1), stores --data in 64 MiB \
        objects, SIGKILLs one data node and waits until every chunk it held has been copied again. Reports the time \
        until the repair started and its throughput from the first copy to the last. Writes \
        bench-results/repair-<engine>.md unless --no-record.
        """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Bytes stored before the node is killed (a third to two thirds of it is on each node).")
    var data = "3GiB"

    @Option(help: "The api's --repair-concurrency: chunks copied at once.")
    var concurrency = 4

    func validate() throws {
        guard (ByteSize.parse(data) ?? 0) >= 64 << 20 else { throw ValidationError("--data: at least 64MiB, e.g. 3GiB") }
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be 1…64") }
    }

    func run() async throws {
        ChildProcess.stopChildrenOnSignal()
        var options = LocalCluster.Options(binDirectory: common.resolvedBinDirectory, workDirectory: common.workDirectory)
        options.engine = common.io
        options.replicas = 2
        options.apiArguments = ["--repair-after", "1", "--node-down-after", "1", "--repair-concurrency", "\(concurrency)"]
        let result = try RepairBench(options: options, objectBytes: ByteSize.parse(data)!).run()
        var table = "### repair · \(ISO8601DateFormatter().string(from: Date())) · \(common.io) · \(data) stored, replicas 2, "
        table += "chunk \(options.chunkSize), --repair-concurrency \(concurrency), --repair-after 1 s, --node-down-after 1 s\n\n"
        table += "| chunks lost | repaired | until the first copy | first copy to last | repair throughput | fio durable write | ratio |\n"
        table += "|--:|--:|--:|--:|--:|--:|--:|\n"
        let ratio = result.fioDurableWriteMegabytesPerSecond > 0 ? result.megabytesPerSecond / result.fioDurableWriteMegabytesPerSecond : 0
        table += "| \(result.lostChunks) | \(ByteSize.format(result.repairedBytes))\(result.complete ? "" : " (**incomplete**)") | "
        table += "\(String(format: "%.1f", result.secondsToStart)) s | \(String(format: "%.1f", result.secondsRepairing)) s | "
        table += "\(Int(result.megabytesPerSecond)) MB/s | \(Int(result.fioDurableWriteMegabytesPerSecond)) MB/s | \(String(format: "%.2f", ratio))× |\n"
        try common.publishTable(table, as: "repair")
        if !result.complete { throw BenchFailure("the repair did not finish within 15 minutes") }
    }
}
