import FlareAuth
import FlareCore
import FlareTestSupport
import Foundation

// curl itself, child processes and file helpers are shared with the integration tests
// (FlareTestSupport); here is what speaks the data node's API, signed as an api node signs.

extension DataNode {
    /// `PUT /chunk/<id>` of a file with `curl -T` (Content-Length from the file size).
    func put(_ id: ChunkID, _ payload: Payload, checksum: String? = nil, extra: [String] = []) async throws -> CurlResult {
        try await request("PUT", url(id), upload: payload.path, ["-H", checksum ?? payload.checksumHeader] + extra)
    }

    /// `GET /chunk/<id>`, body kept in memory (or written to `bodyTo`).
    func get(_ id: ChunkID, _ extra: [String] = [], bodyTo: String? = nil) async throws -> CurlResult {
        try await request("GET", url(id), extra, bodyTo: bodyTo)
    }

    /// `GET <path>` on the node, e.g. `/metrics`.
    func get(path: String) async throws -> CurlResult {
        try await request("GET", base + path)
    }

    /// One request to `url` with curl, signed with the node's secret (or by `signer` when
    /// given; `.some(nil)`: unsigned). The `-H` headers among `extra` are signed with it.
    func request(_ method: String, _ url: String, upload: String? = nil, _ extra: [String] = [],
                 signer: RequestSigner?? = nil, bodyTo: String? = nil) async throws -> CurlResult {
        let (headers, rest) = splitCurlHeaders(extra)
        return try await signedCurl(method, url, signer: signer ?? self.signer, headers: headers, upload: upload, extra: rest,
                                    bodyTo: bodyTo)
    }

    /// `DELETE /chunk/<id>`, signed.
    func delete(_ id: ChunkID, _ extra: [String] = []) async throws -> CurlResult {
        try await request("DELETE", url(id), extra)
    }

    /// `HEAD /chunk/<id>`, signed.
    func head(_ id: ChunkID) async throws -> CurlResult {
        try await request("HEAD", url(id))
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
