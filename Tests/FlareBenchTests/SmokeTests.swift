import FlareIO
import Foundation
import Testing

/// The directory holding the built executables: $FLARE_BIN_DIR, or next to this test bundle.
func binDirectory() -> String {
    if let dir = ProcessInfo.processInfo.environment["FLARE_BIN_DIR"] { return dir }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug").path
}

let smokeEngines: [String] = IOEngineKind.auto.resolved().fallbackReason == nil ? ["uring", "epoll"] : ["epoll"]

@Suite("flare-bench smoke run against a real local cluster")
struct SmokeTests {
    @Test("--quick with a tiny matrix starts a cluster, verifies every byte and prints ratios", arguments: smokeEngines)
    func quickRun(engine: String) throws {
        let bin = binDirectory()
        let executable = "\(bin)/flare-bench"
        try #require(FileManager.default.isExecutableFile(atPath: executable), "build first: \(executable) is missing")
        let work = NSTemporaryDirectory() + "flare-bench-smoke-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--quick", "--sizes", "1MiB,4KiB", "--concurrency", "4", "--duration", "1", "--curl-object", "8MiB",
                             "--no-nginx", "--no-record", "--io", engine, "--work-dir", work, "--bin-dir", bin]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text.suffix(2000))")
        for workload in ["put-curl-8MiB", "get-curl-8MiB", "put-4x1MiB", "get-4x1MiB", "put-4x4KiB", "get-4x4KiB"] {
            #expect(text.contains("| \(workload) |"), "missing \(workload) in the table")
        }
        #expect(!text.contains("**NO**"), "a workload read wrong bytes")
        #expect(text.contains("odirect-write") && text.contains("tcp-loopback-1") && text.contains("tcp-roundtrip-4"))
        #expect(text.contains("× odirect-read") || text.contains("× tcp-loopback"), "ratios missing")
    }

    @Test("datanode with two rounds: PUT and GET verified, each round's ratios printed, medians in the table", arguments: smokeEngines)
    func dataNodeRounds(engine: String) throws {
        let bin = binDirectory()
        let executable = "\(bin)/flare-bench"
        try #require(FileManager.default.isExecutableFile(atPath: executable), "build first: \(executable) is missing")
        let work = NSTemporaryDirectory() + "flare-bench-datanode-smoke-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["datanode", "--clients", "2", "--chunks-per-client", "2", "--rounds", "2", "--no-record",
                             "--node-log", "\(work)/node.log", "--io", engine, "--work-dir", work, "--bin-dir", bin]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text.suffix(2000))")
        #expect(text.contains("| chunk-put-2x4MiB |") && text.contains("| chunk-get-2x4MiB |"), "\(text.suffix(2000))")
        #expect(text.contains("  round 1: ") && text.contains("  round 2: "))
        #expect(text.contains("Medians of 2 interleaved rounds"))
        #expect(!text.contains("**NO**"), "a chunk read back wrong")
        // Two rounds of two clients × two chunks, each PUT and GET once: eight of each in the node's log.
        let log = (try? String(contentsOfFile: "\(work)/node.log", encoding: .utf8)) ?? ""
        #expect(log.components(separatedBy: "PUT /chunk/").count - 1 == 8, "\(log.suffix(1000))")
        #expect(log.components(separatedBy: "GET /chunk/").count - 1 == 8)
    }
}
