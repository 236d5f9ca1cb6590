import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// flare-pipeline's stores and relay, started from the built binary with `--port 0` (each
/// prints the port it bound), stopped by PID.
final class PipelineProcesses: @unchecked Sendable {
    let root: String
    private(set) var children: [ChildProcess] = []
    private(set) var relayPort: UInt16 = 0

    var url: String { "http://127.0.0.1:\(relayPort)" }

    init(root: String) {
        self.root = root
    }

    deinit { children.forEach { $0.killNow() } }

    func start(stores: Int = 3) async throws {
        let binary = try builtExecutable("flare-pipeline")
        var ports: [UInt16] = []
        for index in 0..<stores {
            ports.append(try await launch(binary, ["store", "--port", "0", "--dir", "\(root)/store-\(index)"], log: "\(root)/store-\(index).log"))
        }
        let stores = ports.map { "127.0.0.1:\($0)" }.joined(separator: ",")
        relayPort = try await launch(binary, ["relay", "--port", "0", "--stores", stores], log: "\(root)/relay.log")
    }

    /// SIGTERM to every process by its PID; the exit statuses (nil: still running after 5 s).
    func stop() async -> [Int32?] {
        var statuses: [Int32?] = []
        for child in children.reversed() {
            child.send(SIGTERM)
            statuses.append(await child.exitStatus(within: 5))
        }
        return statuses
    }

    private func launch(_ binary: String, _ arguments: [String], log: String) async throws -> UInt16 {
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let child = try ChildProcess(binary, arguments, stdout: handle, stderr: handle)
        try handle.close()
        children.append(child)
        for _ in 0..<500 {
            let text = readText(log)
            if let after = text.range(of: "listening on 127.0.0.1:")?.upperBound, let port = UInt16(text[after...].prefix { $0.isNumber }) {
                return port
            }
            if child.hasExited { throw TestSupportFailure(description: "flare-pipeline \(arguments[0]) exited at start: \(text)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSupportFailure(description: "flare-pipeline \(arguments[0]) did not listen within 10 s: \(readText(log))")
    }
}

@Suite("flare-pipeline, the minimal pipeline flare-bench measures beside Flare", .serialized)
struct MinimalPipelineTests {
    static let chunkBytes = 4 << 20

    private func scratch(_ name: String) throws -> String {
        let directory = NSTemporaryDirectory() + "flare-pipeline-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test("PUT then GET returns every byte, at chunk boundaries and for an empty object; an unknown key is 404; SIGTERM exits 0")
    func roundTrips() async throws {
        try skipIfUnavailable(.uring)
        let work = try scratch("round-trips")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let pipeline = PipelineProcesses(root: work)
        try await pipeline.start()
        let sizes = [0, 1, Self.chunkBytes - 1, Self.chunkBytes, Self.chunkBytes + 1, 3 * Self.chunkBytes + 5]
        for size in sizes {
            let input = "\(work)/in-\(size)", output = "\(work)/out-\(size)"
            try await makeRandomFile(input, size: size)
            let put = try await curl(["-T", input, "\(pipeline.url)/objects/o-\(size)"], scratch: work)
            #expect(put.status == 201, "PUT of \(size) bytes: \(put)")
            let get = try await curl(["\(pipeline.url)/objects/o-\(size)"], scratch: work, bodyTo: output)
            #expect(get.status == 200 && get.headers["content-length"] == "\(size)", "GET of \(size) bytes: \(get)")
            #expect(try await sameBytes(input, output, scratch: work), "\(size) bytes came back different")
        }
        // Chunk i of each object went to store i % 3: store 0 has the five first chunks and the
        // largest object's fourth, store 1 the two second chunks, store 2 the one third chunk.
        let chunkFiles = (0..<3).map { (try? FileManager.default.contentsOfDirectory(atPath: "\(work)/store-\($0)")) ?? [] }
        #expect(chunkFiles.map(\.count) == [6, 2, 1], "chunks per store: \(chunkFiles)")
        let unknown = try await curl(["\(pipeline.url)/objects/never-stored"], scratch: work)
        #expect(unknown.status == 404, "\(unknown)")
        let statuses = await pipeline.stop()
        #expect(statuses == [0, 0, 0, 0], "exit statuses of the relay and the stores: \(statuses)")
    }

    @Test("more clients at once than the relay has slots: every upload and download completes, byte for byte")
    func concurrentClients() async throws {
        try skipIfUnavailable(.uring)
        let work = try scratch("concurrent")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let pipeline = PipelineProcesses(root: work)
        try await pipeline.start()
        let input = "\(work)/in"
        try await makeRandomFile(input, size: 3 * Self.chunkBytes + 5)
        let clients = 6  // the relay serves 4 at once; the others wait in its listen backlog
        let uploads = try (0..<clients).map { try CurlCall(["-T", input, "\(pipeline.url)/c-\($0)"], scratch: work) }
        for (index, upload) in uploads.enumerated() {
            let result = await upload.wait()
            #expect(result.status == 201, "upload \(index): \(result)")
        }
        let downloads = try (0..<clients).map { try CurlCall(["\(pipeline.url)/c-\($0)"], scratch: work, bodyTo: "\(work)/out-\($0)") }
        for (index, download) in downloads.enumerated() {
            let result = await download.wait()
            #expect(result.status == 200, "download \(index): \(result)")
            #expect(try await sameBytes(input, "\(work)/out-\(index)", scratch: work), "download \(index) came back different")
        }
        _ = await pipeline.stop()
    }

    @Test("bad arguments print the usage and exit 2")
    func usage() async throws {
        let binary = try builtExecutable("flare-pipeline")
        for arguments in [[], ["serve"], ["relay", "--port", "1"], ["relay", "--port", "1", "--stores", "localhost:1"],
                          ["store", "--port", "70000", "--dir", "/tmp"], ["store", "--dir"]] {
            let result = try await runProgram(binary, arguments)
            #expect(result.status == 2, "\(arguments): exit \(result.status)")
            #expect(result.stderr.contains("usage: flare-pipeline store --port P --dir D"), "\(arguments): \(result.stderr)")
        }
    }
}
