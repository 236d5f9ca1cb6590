import FlareCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Bytes moved by a layout change against the ideal, and the time taken: a local cluster of
/// three listed data nodes (and a fourth running unlisted), replicas 2, stores `objectBytes`
/// in 64 MiB objects; then the fourth node is added (3 → 4: the ideal is its share, a quarter
/// of the copies) and, once settled, drained and removed (4 → 3: the ideal is exactly its
/// copies). Moves are counted from the api's `flare_api_repair_bytes_total`; "settled" is a
/// repair pass that started after the change and found nothing to do.
public struct RebalanceBench {
    public struct Step: Codable, Sendable {
        public var change: String
        public var bytesMoved: Int
        public var idealBytes: Int
        public var seconds: Double
        public var complete: Bool
        public var megabytesPerSecond: Double { seconds > 0 ? Double(bytesMoved) / seconds / 1e6 : 0 }
        public var ratio: Double { idealBytes > 0 ? Double(bytesMoved) / Double(idealBytes) : 0 }
    }

    let options: LocalCluster.Options
    let objectBytes: Int
    static let objectSize = 64 << 20

    public init(options: LocalCluster.Options, objectBytes: Int) {
        var options = options
        options.dataNodes = 4
        options.listedDataNodes = 3
        options.replicas = 2
        self.options = options
        self.objectBytes = objectBytes
    }

    public func run() throws -> [Step] {
        let progress = ProgressReporter()
        let cluster = try LocalCluster(options: options)
        defer { cluster.stop() }
        try cluster.start()
        let count = max(1, objectBytes / Self.objectSize)
        _ = try cluster.storeObjects(count, bytes: Self.objectSize, prefix: "move/")
        let copyBytes = 2 * count * Self.objectSize
        let fourth = "127.0.0.1:\(cluster.dataNodePorts[3])"
        var steps: [Step] = []

        progress.begin("3 → 4: adding \(fourth)")
        let add = try api(cluster, "POST", "/admin/nodes?address=\(fourth)")
        guard let id = add["id"] as? String else { throw BenchError("adding \(fourth) failed: \(add)") }
        steps.append(try settle(cluster, change: "3 → 4 (add)", ideal: copyBytes / 4))
        progress.finish("moved \(ByteSize.format(steps[0].bytesMoved)) in \(String(format: "%.1f", steps[0].seconds)) s")

        let held = (try api(cluster, "GET", "/admin/nodes")["nodes"] as? [[String: Any]])?.first { $0["id"] as? String == id }?["copies"] as? Int ?? 0
        progress.begin("4 → 3: draining \(id.prefix(12)), which holds \(held) copies")
        _ = try api(cluster, "POST", "/admin/nodes/\(id)/drain")
        let chunkBytes = ByteSize.parse(options.chunkSize) ?? (4 << 20)
        steps.append(try settle(cluster, change: "4 → 3 (drain)", ideal: held * chunkBytes))
        // Deletions of the copies moved off it run after the grace; then it may go.
        var removed: [String: Any] = [:]
        for _ in 0..<600 {
            removed = try api(cluster, "POST", "/admin/nodes/\(id)/remove")
            if removed["state"] as? String == "removed" { break }
            usleep(100_000)
        }
        guard removed["state"] as? String == "removed" else { throw BenchError("the drained node could not be removed: \(removed)") }
        progress.finish("moved \(ByteSize.format(steps[1].bytesMoved)) in \(String(format: "%.1f", steps[1].seconds)) s")
        return steps
    }

    /// Waits (at most 15 minutes) for a pass that started after now and found nothing to do.
    private func settle(_ cluster: LocalCluster, change: String, ideal: Int) throws -> Step {
        let started = ContinuousClock.now
        let since = wallClockNanoseconds()
        let before = try movedBytes(cluster)
        var lastCopy = started, moved = 0
        let deadline = started + .seconds(900)
        while ContinuousClock.now < deadline {
            usleep(50_000)
            let now = try movedBytes(cluster) - before
            if now != moved {
                moved = now
                lastCopy = .now
            }
            let repair = try api(cluster, "GET", "/admin/repair")
            let pass = repair["pass"] as? [String: Any]
            if repair["state"] as? String == "idle", let begun = pass?["started_ns"] as? Int64 ?? (pass?["started_ns"] as? Int).map(Int64.init),
               begun > since, pass?["chunks_total"] as? Int == 0 {
                return Step(change: change, bytesMoved: moved, idealBytes: ideal, seconds: (lastCopy - started).secondsValue, complete: true)
            }
        }
        return Step(change: change, bytesMoved: moved, idealBytes: ideal, seconds: (lastCopy - started).secondsValue, complete: false)
    }

    private func movedBytes(_ cluster: LocalCluster) throws -> Int {
        let metrics = String(decoding: try runCommand("/usr/bin/curl", ["-sS", "--max-time", "10", "\(cluster.apiURL)/metrics"]).stdout, as: UTF8.self)
        return Int(RepairBench.value(metrics, "flare_api_repair_bytes_total"))
    }

    private func api(_ cluster: LocalCluster, _ method: String, _ path: String) throws -> [String: Any] {
        let output = try runCommand("/usr/bin/curl", ["-sS", "--max-time", "30", "-X", method, "-H", cluster.credentials.adminHeader,
                                                      "\(cluster.apiURL)\(path)"])
        let answer = String(decoding: output.stdout, as: UTF8.self).prefix(300)
        do {
            guard let json = try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any] else {
                throw BenchError("\(method) \(path): not a JSON object: \(answer)")
            }
            return json
        } catch {
            throw BenchError("\(method) \(path): \(error): \(answer)")
        }
    }
}
