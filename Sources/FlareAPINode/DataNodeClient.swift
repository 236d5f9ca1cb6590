import FlareCore
import FlareHTTP
import FlareIO

/// Talks to data nodes from one event loop, over that loop's keep-alive pool.
final class DataNodeClient: @unchecked Sendable {
    /// Why a chunk could not be stored or fetched.
    enum Failure: Error, CustomStringConvertible {
        /// Every node was tried; the last error of each is kept.
        case unavailable([String])
        case corrupt(String)

        var description: String {
            switch self {
            case .unavailable(let reasons): return "no data node could serve the chunk: " + reasons.joined(separator: "; ")
            case .corrupt(let reason): return reason
            }
        }
    }

    let client: HTTPClient
    let addresses: [String: SocketAddress]
    let metrics: Metrics
    let timeout: Duration

    init(loop: EventLoop, addresses: [String: SocketAddress], metrics: Metrics, timeout: Duration) {
        client = HTTPClient(loop: loop, connectionsPerPeerMax: 64, idlePerPeerMax: 32)
        client.connectTimeout = .seconds(2)
        self.addresses = addresses
        self.metrics = metrics
        self.timeout = timeout
    }

    /// Stores a chunk on the first node of `candidates` that accepts it; returns that node.
    /// `attempting` is told every node a copy is about to be sent to, before it is sent (and
    /// may refuse by throwing), so a failed upload can delete whatever may have landed.
    func put(_ id: ChunkID, _ bytes: UnsafeRawBufferPointer, crc32c: UInt32, candidates: [String],
             attempting: (String) async throws -> Void) async throws -> String {
        var reasons: [String] = []
        for node in candidates {
            try await attempting(node)
            let started = ContinuousClock.now
            do {
                let status = try await client.execute(method: "PUT", target: "/chunk/\(id)",
                                                      headers: ["X-Flare-Checksum": CRC32C.headerValue(crc32c)],
                                                      body: bytes, to: addresses[node]!, timeout: timeout) { response in
                    let status = response.status
                    _ = try await response.body.discard(bytesMax: 64 * 1024)
                    return status
                }
                observe(node, "PUT", started, status: status)
                if status == 201 { return node }
                reasons.append("\(node): status \(status)")
                // A 4xx other than a full disk means the request itself is wrong: no node will take it.
                if status / 100 == 4 && status != 409 { throw Failure.unavailable(reasons) }
            } catch let failure as Failure {
                throw failure
            } catch {
                observe(node, "PUT", started, status: 0)
                reasons.append("\(node): \(error)")
            }
        }
        throw Failure.unavailable(reasons)
    }

    /// Fetches a whole chunk into `buffer` from the first replica that has a verified copy.
    func get(_ chunk: ChunkRecord, into buffer: IOBuffer) async throws {
        precondition(buffer.capacity >= chunk.length)
        var reasons: [String] = []
        for node in chunk.replicas {
            let started = ContinuousClock.now
            guard let address = addresses[node] else {
                reasons.append("\(node): not a configured data node")
                continue
            }
            var crc = CRC32C()
            do {
                let outcome = try await client.execute(method: "GET", target: "/chunk/\(chunk.id)", to: address, timeout: timeout) {
                    response -> String? in
                    crc = CRC32C()  // a retry on a fresh connection starts over
                    guard response.status == 200 else {
                        _ = try await response.body.discard(bytesMax: 64 * 1024)
                        return "status \(response.status)"
                    }
                    guard response.body.contentLength == chunk.length else {
                        return "length \(response.body.contentLength ?? -1), manifest says \(chunk.length)"
                    }
                    let got = try await response.body.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer.space[0..<chunk.length])) {
                        crc.update($0)
                    }
                    guard got == chunk.length else { return "short body" }
                    return nil
                }
                observe(node, "GET", started, status: outcome == nil ? 200 : 500)
                guard let problem = outcome else {
                    buffer.count = chunk.length
                    guard crc.value == chunk.crc32c else {
                        metrics.increment("flare_api_corrupt_chunks_total", labels: "node=\"\(node)\"")
                        reasons.append("\(node): checksum mismatch")
                        continue
                    }
                    return
                }
                reasons.append("\(node): \(problem)")
            } catch {
                observe(node, "GET", started, status: 0)
                reasons.append("\(node): \(error)")
            }
        }
        throw Failure.unavailable(reasons)
    }

    /// Deletes a chunk copy; true when it is gone (404 counts as gone).
    func delete(_ id: ChunkID, on node: String) async -> Bool {
        guard let address = addresses[node] else { return true }
        let started = ContinuousClock.now
        do {
            let status = try await client.execute(method: "DELETE", target: "/chunk/\(id)", to: address, timeout: timeout) { response in
                _ = try await response.body.discard(bytesMax: 64 * 1024)
                return response.status
            }
            observe(node, "DELETE", started, status: status)
            return status == 204 || status == 404
        } catch {
            observe(node, "DELETE", started, status: 0)
            return false
        }
    }

    private func observe(_ node: String, _ method: String, _ started: ContinuousClock.Instant, status: Int) {
        let elapsed = ContinuousClock.now - started
        metrics.observe("flare_api_datanode_request_seconds", labels: "node=\"\(node)\",method=\"\(method)\"", elapsed.secondsValue)
        if status == 0 || status >= 500 {
            metrics.increment("flare_api_datanode_errors_total", labels: "node=\"\(node)\",method=\"\(method)\"")
        }
    }
}
