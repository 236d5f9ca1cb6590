import ArgumentParser
import FlareBench
import FlareCore
import Foundation

struct Repair: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time to heal: kill a data node holding a share of the objects and time the api's repair, beside fio's durable write; then clients' GETs while a repair runs at its default bandwidth.",
        discussion: """
        Starts a local cluster with --replicas 2 (--repair-after 1, --node-down-after 1, --repair-bandwidth 0), \
        stores --data in 64 MiB objects, SIGKILLs one data node and waits until every chunk it held has been \
        copied again. Reports the time until the repair started and its throughput from the first copy to the \
        last. Then, on a second cluster with the default --repair-bandwidth, --load-seconds of sequential GETs \
        before a node is killed and as many during the repair. Writes bench-results/repair-<engine>.md unless \
        --no-record.
        """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Bytes stored before the node is killed (a third to two thirds of it is on each node).")
    var data = "3GiB"

    @Option(help: "The api's --repair-concurrency: chunks copied at once.")
    var concurrency = 4

    @Option(name: .customLong("load-seconds"), help: "Seconds of client load (half GETs, half PUTs) before, and at most during, the throttled repair (0: skip that part).")
    var loadSeconds = 8.0

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
        var unthrottled = options
        unthrottled.apiArguments += ["--repair-bandwidth", "0"]
        let result = try RepairBench(options: unthrottled, objectBytes: ByteSize.parse(data)!).run()
        var table = "### repair · \(ISO8601DateFormatter().string(from: Date())) · \(common.io) · \(data) stored, replicas 2, "
        table += "chunk \(options.chunkSize), --repair-concurrency \(concurrency), --repair-after 1 s, --node-down-after 1 s, --repair-bandwidth 0\n\n"
        table += "| chunks lost | repaired | until the first copy | first copy to last | repair throughput | fio durable write | ratio |\n"
        table += "|--:|--:|--:|--:|--:|--:|--:|\n"
        let ratio = result.fioDurableWriteMegabytesPerSecond > 0 ? result.megabytesPerSecond / result.fioDurableWriteMegabytesPerSecond : 0
        table += "| \(result.lostChunks) | \(ByteSize.format(result.repairedBytes))\(result.complete ? "" : " (**incomplete**)") | "
        table += "\(String(format: "%.1f", result.secondsToStart)) s | \(String(format: "%.1f", result.secondsRepairing)) s | "
        table += "\(Int(result.megabytesPerSecond)) MB/s | \(Int(result.fioDurableWriteMegabytesPerSecond)) MB/s | \(String(format: "%.2f", ratio))× |\n"
        if loadSeconds > 0 {
            let load = try RepairBench(options: options, objectBytes: ByteSize.parse(data)!).clientLoad(seconds: loadSeconds)
            table += "\nClients with the repair at its default --repair-bandwidth (256 MiB/s), on a second cluster of the same shape: "
            table += "sequential 64 MiB GETs (each checked), then PUTs, \(Int(loadSeconds / 2)) s each, before the kill and during the repair:\n\n"
            table += "| | without repair | during repair | ratio |\n|---|--:|--:|--:|\n"
            let ratio = { (during: Double, before: Double) in before > 0 ? String(format: "%.2f", during / before) + "×" : "-" }
            table += "| GET | \(Int(load.getMegabytesPerSecondBefore)) MB/s | \(Int(load.getMegabytesPerSecondDuring)) MB/s | \(ratio(load.getMegabytesPerSecondDuring, load.getMegabytesPerSecondBefore)) |\n"
            table += "| PUT | \(Int(load.putMegabytesPerSecondBefore)) MB/s | \(Int(load.putMegabytesPerSecondDuring)) MB/s | \(ratio(load.putMegabytesPerSecondDuring, load.putMegabytesPerSecondBefore)) |\n"
            table += "\nThe repair meanwhile: \(Int(load.repairMegabytesPerSecondDuring)) MB/s over \(String(format: "%.1f", load.secondsDuring)) s; \(load.errors) client errors.\n"
        }
        try common.publishTable(table, as: "repair")
        if !result.complete { throw BenchFailure("the repair did not finish within 15 minutes") }
    }
}
