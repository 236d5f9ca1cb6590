import FlareCore
import FlareIO
import Foundation

/// Peak RSS of the API node under large transfers, with default settings: Flare must not
/// hold objects in memory, so its peak is bounded by the buffer pool, not by object sizes.
public struct MemoryBench {
    public struct Result: Codable, Sendable {
        public var scenario: String
        public var peakRSSBytes: Int
        public var limitBytes: Int
        public var bytesMoved: Int
        public var seconds: Double
        public var errors: Int
        public var withinLimit: Bool { peakRSSBytes <= limitBytes }
    }

    let options: LocalCluster.Options
    let largeObjectBytes: Int
    let uploads: Int
    let uploadBytes: Int

    public init(options: LocalCluster.Options, largeObjectBytes: Int, uploads: Int, uploadBytes: Int) {
        self.options = options
        self.largeObjectBytes = largeObjectBytes
        self.uploads = uploads
        self.uploadBytes = uploadBytes
    }

    public func run() async throws -> [Result] {
        let progress = ProgressReporter()
        let cluster = try LocalCluster(options: options)
        defer { cluster.stop() }
        try cluster.start()
        guard let pid = cluster.apiProcess?.processIdentifier else { throw BenchError("no api process") }
        let generator = try await LoadGenerator(engine: IOEngineKind(parsing: options.engine) ?? .auto)
        defer { generator.shutdown() }
        let target = BenchTarget(address: try socketAddress(of: cluster.apiURL), pathPrefix: "/object/")
        var results: [Result] = []

        // Scenario 1: one large PUT and one large GET at the same time.
        let seed = WorkloadSpec(clients: 1, objectBytes: largeObjectBytes, objectsPerClient: 1)
        progress.begin("storing a \(ByteSize.format(largeObjectBytes)) object to read back")
        let (_, checksums) = try await generator.put(seed, to: target, name: "seed") { progress.add($0) }
        progress.finish("stored")
        try resetPeak(pid)
        let started = ContinuousClock.now
        var other = WorkloadSpec(clients: 1, objectBytes: largeObjectBytes, objectsPerClient: 1)
        other.namespace = "memory-put"
        progress.begin("PUT \(ByteSize.format(largeObjectBytes)) while GET \(ByteSize.format(largeObjectBytes))")
        async let put = generator.put(other, to: target, name: "put") { progress.add($0) }
        async let get = generator.get(seed, from: target, name: "get", checksums: checksums) { progress.add($0) }
        let (written, read) = try await (put.0, get)
        let peak = try peakRSS(pid)
        progress.finish("peak RSS \(ByteSize.format(peak))")
        results.append(Result(scenario: "1 PUT + 1 GET of \(ByteSize.format(largeObjectBytes)) at once", peakRSSBytes: peak,
                              limitBytes: 256 << 20, bytesMoved: written.bytes + read.bytes,
                              seconds: elapsedSeconds(since: started), errors: written.errors + read.errors))

        // Scenario 2: many concurrent uploads; the pool bounds them (requests wait for buffers).
        try resetPeak(pid)
        let many = WorkloadSpec(clients: uploads, objectBytes: uploadBytes, objectsPerClient: 1)
        let manyStarted = ContinuousClock.now
        progress.begin("\(uploads) concurrent uploads of \(ByteSize.format(uploadBytes))")
        let (uploaded, _) = try await generator.put(many, to: target, name: "many") { progress.add($0) }
        let manyPeak = try peakRSS(pid)
        progress.finish("peak RSS \(ByteSize.format(manyPeak))")
        let pool = ByteSize.parse(options.bufferPool) ?? 0
        results.append(Result(scenario: "\(uploads) concurrent uploads of \(ByteSize.format(uploadBytes))", peakRSSBytes: manyPeak,
                              limitBytes: pool + (128 << 20), bytesMoved: uploaded.bytes,
                              seconds: elapsedSeconds(since: manyStarted), errors: uploaded.errors))
        return results
    }

    /// Resets VmHWM (writing 5 to clear_refs), so the next peak is this scenario's own.
    private func resetPeak(_ pid: Int32) throws {
        try "5".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .utf8)
    }

    /// VmHWM: the peak resident set since the last reset.
    private func peakRSS(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else {
            throw BenchError("no VmHWM for pid \(pid)")
        }
        return kilobytes * 1024
    }
}
