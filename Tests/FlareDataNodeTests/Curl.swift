import FlareCore
import FlareTestSupport
import Foundation

// curl itself, child processes and file helpers are shared with the integration tests
// (FlareTestSupport); here is what speaks the data node's API.

extension DataNode {
    /// `PUT /chunk/<id>` of a file with `curl -T` (Content-Length from the file size).
    func put(_ id: ChunkID, _ payload: Payload, checksum: String? = nil, extra: [String] = []) async throws -> CurlResult {
        try await curl(["-T", payload.path, "-H", checksum ?? payload.checksumHeader] + extra + [url(id)])
    }

    /// `GET /chunk/<id>`, body kept in memory (or written to `bodyTo`).
    func get(_ id: ChunkID, _ extra: [String] = [], bodyTo: String? = nil) async throws -> CurlResult {
        try await curl(extra + [url(id)], bodyTo: bodyTo)
    }

    /// `GET <path>` on the node, e.g. `/metrics`.
    func get(path: String) async throws -> CurlResult {
        try await curl([base + path])
    }

    /// The value of a metric, e.g. `flare_datanode_corrupt_chunks_total`, or with `labels`
    /// (as rendered: `result="ok"`) that one series of it.
    func metric(_ name: String, labels: String = "") async throws -> Double? {
        let series = labels.isEmpty ? name : "\(name){\(labels)}"
        let text = try await get(path: "/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// Polls `condition` every 100 ms until it holds or `seconds` have passed; whether it held.
    func eventually(within seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }
}
