import ArgumentParser
import FlareBench
import FlareCore
import Foundation

struct HTTPS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "https",
        abstract: "curl PUT and GET of one object over HTTPS: Flare's api beside nginx with the same certificate, and nginx over plain HTTP.",
        discussion: """
        Makes a CA and a P-256 certificate for 127.0.0.1 (openssl), starts a local cluster whose api has --tls-cert and \
        --tls-key, and nginx serving WebDAV on HTTPS and HTTP; then, in --rounds alternating rounds, moves --object up and \
        down with curl against each (every GET checked). Reports medians, Flare ÷ nginx over HTTPS, and the api's CPU \
        seconds per GiB. Writes bench-results/https-<engine>.md unless --no-record.
        """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Size of the object moved.")
    var object = "1GiB"

    @Option(help: "Rounds, order alternating.")
    var rounds = 3

    func validate() throws {
        guard (ByteSize.parse(object) ?? 0) > 0 else { throw ValidationError("--object: use a size like 1GiB") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
    }

    func run() async throws {
        ChildProcess.stopChildrenOnSignal()
        var options = LocalCluster.Options(binDirectory: common.resolvedBinDirectory, workDirectory: common.workDirectory)
        options.engine = common.io
        let bytes = ByteSize.parse(object)!
        let rows = try HTTPSBench(options: options, objectBytes: bytes, rounds: rounds).run()
        let median = { (name: String) in rows.first { $0.name == name }?.median ?? 0 }
        var table = "### HTTPS · \(ISO8601DateFormatter().string(from: Date())) · \(common.io) · curl, one \(ByteSize.format(bytes)) object, \(rounds) rounds (medians)\n\n"
        table += "| row | MB/s (median) | per round | api CPU-s per GiB | vs nginx over HTTPS |\n|---|--:|---|--:|--:|\n"
        for row in rows {
            let operation = row.name.hasSuffix("put") ? "put" : "get"
            let ratio = row.name.hasPrefix("flare") ? String(format: "%.2f×", row.median / max(median("nginx-https-\(operation)"), 1)) : ""
            table += "| \(row.name) | \(Int(row.median)) | \(row.megabytesPerSecond.map { String(Int($0)) }.joined(separator: ", ")) | "
            table += "\(row.medianCPU.map { String(format: "%.2f", $0) } ?? "") | \(ratio) |\n"
        }
        try common.publishTable(table, as: "https")
    }
}
