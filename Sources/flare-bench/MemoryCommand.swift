import ArgumentParser
import FlareBench
import FlareCore
import Foundation

struct Memory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Peak RSS of the api (default settings) during large and many concurrent transfers.",
        discussion: "Writes bench-results/memory-<engine>.md unless --no-record. Fails when a peak exceeds its limit.")

    @OptionGroup var common: CommonOptions

    @Option(name: .customLong("large-object"), help: "Size of the object PUT while another is read.")
    var largeObject = "4GiB"

    @Option(help: "Concurrent uploads in the second scenario.")
    var uploads = 64

    @Option(name: .customLong("upload-size"), help: "Size of each concurrent upload.")
    var uploadSize = "256MiB"

    func run() async throws {
        ChildProcess.stopChildrenOnSignal()
        var options = LocalCluster.Options(binDirectory: common.resolvedBinDirectory, workDirectory: common.workDirectory)
        options.engine = common.io
        guard let large = ByteSize.parse(largeObject), let each = ByteSize.parse(uploadSize) else {
            throw ValidationError("sizes like 4GiB, 256MiB")
        }
        let results = try await MemoryBench(options: options, largeObjectBytes: large, uploads: uploads, uploadBytes: each).run()
        var table = "### api peak RSS · \(ISO8601DateFormatter().string(from: Date())) · \(common.io) · default settings (buffer pool \(options.bufferPool), window \(options.window), chunk \(options.chunkSize))\n\n"
        table += "| scenario | peak RSS | limit | within | moved | seconds | errors |\n|---|--:|--:|:-:|--:|--:|--:|\n"
        for result in results {
            table += "| \(result.scenario) | \(ByteSize.format(result.peakRSSBytes)) | \(ByteSize.format(result.limitBytes)) | "
            table += "\(result.withinLimit ? "yes" : "**NO**") | \(ByteSize.format(result.bytesMoved)) | \(String(format: "%.1f", result.seconds)) | \(result.errors) |\n"
        }
        try common.publishTable(table, as: "memory")
        let over = results.filter { !$0.withinLimit || $0.errors > 0 }
        if !over.isEmpty { throw BenchFailure("over the limit or with errors: " + over.map(\.scenario).joined(separator: "; ")) }
    }
}
