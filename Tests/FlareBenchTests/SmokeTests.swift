import FlareBench
import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// The directory holding the built executables: $FLARE_BIN_DIR, or next to this test bundle.
func binDirectory() -> String {
    if let dir = ProcessInfo.processInfo.environment["FLARE_BIN_DIR"] { return dir }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug").path
}

/// Runs the built flare-bench with `arguments` to its end and returns its exit status and
/// output. The wait suspends instead of blocking: every test of the run shares the same two
/// concurrency threads, and a test that sat on one for the ~12 s of a bench run starved the
/// others (integration tests then missed their start-up deadlines).
///
/// With `interruptWhen`, the output is polled and SIGTERM is sent once it returns true.
func runFlareBench(_ arguments: [String], in work: String,
                   interruptWhen: ((String) -> Bool)? = nil) async throws -> (status: Int32, output: String) {
    let executable = "\(binDirectory())/flare-bench"
    try #require(FileManager.default.isExecutableFile(atPath: executable), "build first: \(executable) is missing")
    let outputPath = "\(work)/flare-bench.out"
    guard FileManager.default.createFile(atPath: outputPath, contents: nil), let output = FileHandle(forWritingAtPath: outputPath) else {
        throw CocoaError(.fileWriteUnknown)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments + ["--work-dir", work, "--bin-dir", binDirectory()]
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = output
    process.standardError = output
    let exited = AsyncStream<Void>.makeStream()
    process.terminationHandler = { _ in exited.continuation.finish() }
    try process.run()
    try output.close()
    if let interruptWhen {
        // Bounded: a run that never gets there is stopped after 120 s anyway.
        for _ in 0..<1200 where process.isRunning {
            if interruptWhen(String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self)) {
                kill(process.processIdentifier, SIGTERM)
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
    for await _ in exited.stream {}
    process.waitUntilExit()  // already exited: returns at once, and makes the status readable
    let text = String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self)
    return (process.terminationStatus, text)
}

// One at a time: each case starts processes of its own and moves hundreds of MiB.
@Suite("flare-bench smoke run against a real local cluster", .serialized, .limited(by: clusterSlots))
struct SmokeTests {
    @Test("--quick with a tiny matrix starts a cluster, verifies every byte and prints ratios", arguments: testedEngines)
    func quickRun(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let work = NSTemporaryDirectory() + "flare-bench-smoke-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (status, text) = try await runFlareBench(["--quick", "--sizes", "1MiB,4KiB", "--concurrency", "4", "--duration", "1",
                                                      "--curl-object", "8MiB", "--no-nginx", "--no-record", "--io", engine.rawValue], in: work)
        #expect(status == 0, "\(text.suffix(2000))")
        for workload in ["put-curl-8MiB", "get-curl-8MiB", "put-4x1MiB", "get-4x1MiB", "put-4x4KiB", "get-4x4KiB"] {
            #expect(text.contains("| \(workload) |"), "missing \(workload) in the table")
        }
        #expect(!text.contains("**NO**"), "a workload read wrong bytes")
        #expect(text.contains("odirect-write") && text.contains("tcp-loopback-1") && text.contains("tcp-roundtrip-4"))
        #expect(text.contains("× odirect-read") || text.contains("× tcp-loopback"), "ratios missing")
    }

    @Test("datanode with two rounds: PUT and GET verified, each round's ratios printed, medians in the table", arguments: testedEngines)
    func dataNodeRounds(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let work = NSTemporaryDirectory() + "flare-bench-datanode-smoke-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (status, text) = try await runFlareBench(["datanode", "--clients", "2", "--chunks-per-client", "2", "--rounds", "2",
                                                      "--no-record", "--node-log", "\(work)/node.log", "--io", engine.rawValue], in: work)
        #expect(status == 0, "\(text.suffix(2000))")
        #expect(text.contains("| chunk-put-2x4MiB |") && text.contains("| chunk-get-2x4MiB |"), "\(text.suffix(2000))")
        #expect(text.contains("  round 1: ") && text.contains("  round 2: "))
        #expect(text.contains("Medians of 2 interleaved rounds"))
        #expect(text.contains("× odirect-read-chunk-files"), "fio's read of the round's chunk files is missing")
        #expect(!text.contains("**NO**"), "a chunk read back wrong")
        // Two rounds of two clients × two chunks, each PUT and GET once: eight of each in the node's log.
        let log = (try? String(contentsOfFile: "\(work)/node.log", encoding: .utf8)) ?? ""
        #expect(log.components(separatedBy: "PUT /chunk/").count - 1 == 8, "\(log.suffix(1000))")
        #expect(log.components(separatedBy: "GET /chunk/").count - 1 == 8)
    }

    @Test("s3: boto3 and awscli rows beside the native ones, every download checked, each against native, with CPU", arguments: testedEngines)
    func s3Rows(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        if let reason = S3Workload.unavailableReason() {
            Issue.record(Comment(rawValue: "skipped: \(reason)"), severity: .warning)
            try Test.cancel(Comment(rawValue: "skipped: \(reason)"))
        }
        let work = NSTemporaryDirectory() + "flare-bench-s3-smoke-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (status, text) = try await runFlareBench(["s3", "--object", "16MiB", "--objects", "2", "--object-size", "16MiB", "--rounds", "1",
                                                      "--no-nginx", "--no-record", "--io", engine.rawValue], in: work)
        #expect(status == 0, "\(text.suffix(3000))")
        for row in ["s3-put-boto3-16MiB", "s3-get-boto3-16MiB", "s3-put-awscli-16MiB", "s3-get-awscli-16MiB", "s3-put-curl-16MiB", "s3-get-curl-16MiB",
                    "s3-put-boto3-2x16MiB", "s3-get-boto3-2x16MiB"] {
            #expect(text.contains("| \(row) |"), "missing \(row)")
        }
        #expect(!text.contains("**NO**") && !text.contains("NOT VERIFIED"), "an S3 download came back wrong")
        #expect(text.contains("× get-curl-16MiB (native)") && text.contains("× put-2x16MiB (native)"), "ratios to native missing")
        #expect(text.contains("boto3's upload requests carried:") && text.contains("| workload | MB/s | client | api | data nodes | cores busy |"))
        let left = try FileManager.default.contentsOfDirectory(atPath: work).filter { $0 != "flare-bench.out" }
        #expect(left.isEmpty, "left in the work directory: \(left)")
    }

    @Test("SIGTERM in the middle of a run stops every process it started and removes its files", arguments: testedEngines)
    func interrupted(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let work = NSTemporaryDirectory() + "flare-bench-interrupt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        // Interrupted while the cluster runs and the first upload is under way.
        let (status, text) = try await runFlareBench(["--quick", "--no-nginx", "--no-record", "--io", engine.rawValue], in: work) {
            $0.contains("local cluster: api")
        }
        #expect(status == 128 + SIGTERM, "\(text.suffix(2000))")
        #expect(text.contains("flare-bench: signal 15: stopping"), "\(text.suffix(2000))")
        let left = try FileManager.default.contentsOfDirectory(atPath: work).filter { $0 != "flare-bench.out" }
        #expect(left.isEmpty, "left in the work directory: \(left)")
        // No process of the run is left: none has the work directory on its command line.
        let survivors = try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap { entry -> (Int32, String)? in
            guard let pid = Int32(entry), let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let line = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.contains(work) ? (pid, line) : nil
        }
        #expect(survivors.isEmpty, "still running: \(survivors.map(\.1))")
        for (pid, _) in survivors { kill(pid, SIGKILL) }  // a failed run must not leave them behind
    }
}
