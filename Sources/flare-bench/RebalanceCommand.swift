import ArgumentParser
import FlareBench
import FlareCore
import Foundation

struct Rebalance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bytes a layout change moves against the ideal, and the time: 3 → 4 nodes (add), then 4 → 3 (drain, remove).",
        discussion: """
        Starts a local cluster of 3 listed data nodes and a 4th unlisted one, --replicas 2, --repair-bandwidth 0, \
        --deletion-grace 1 (so a copy moved back soon after it left is not held up by its queued deletion), stores \
        --data in 64 MiB objects, adds the 4th node by the admin API and waits until a repair pass finds nothing \
        to move; then drains it, waits the same way, and removes it. The ideal for the add is a quarter of the \
        copies' bytes (the new node's share), for the drain the bytes of the copies it held. Writes \
        bench-results/rebalance-<engine>.md unless --no-record.
        """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Bytes stored before the layout changes.")
    var data = "2GiB"

    func validate() throws {
        guard (ByteSize.parse(data) ?? 0) >= 64 << 20 else { throw ValidationError("--data: at least 64MiB, e.g. 2GiB") }
    }

    func run() async throws {
        ChildProcess.stopChildrenOnSignal()
        var options = LocalCluster.Options(binDirectory: common.resolvedBinDirectory, workDirectory: common.workDirectory)
        options.engine = common.io
        options.apiArguments = ["--repair-bandwidth", "0", "--deletion-grace", "1"]
        let steps = try RebalanceBench(options: options, objectBytes: ByteSize.parse(data)!).run()
        var table = "### rebalance · \(ISO8601DateFormatter().string(from: Date())) · \(common.io) · \(data) stored, replicas 2, "
        table += "chunk \(options.chunkSize), --repair-bandwidth 0\n\n"
        table += "| change | moved | ideal | moved ÷ ideal | time | throughput |\n|---|--:|--:|--:|--:|--:|\n"
        for step in steps {
            let mib = { (bytes: Int) in String(format: "%.0f MiB", Double(bytes) / 1_048_576) }
            table += "| \(step.change)\(step.complete ? "" : " (**incomplete**)") | \(mib(step.bytesMoved)) | \(mib(step.idealBytes)) | "
            table += "\(String(format: "%.2f", step.ratio))× | \(String(format: "%.1f", step.seconds)) s | \(Int(step.megabytesPerSecond)) MB/s |\n"
        }
        try common.publishTable(table, as: "rebalance")
        if steps.contains(where: { !$0.complete }) { throw BenchFailure("a rebalance did not settle within 15 minutes") }
    }
}
