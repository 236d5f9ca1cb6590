import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Checks an error answer: its status, and a JSON body with `error`, `message` and a
/// `requestId` that matches the `X-Request-Id` header.
func expectError(_ result: CurlResult, _ status: Int, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == status, "\(context): \(result)", sourceLocation: sourceLocation)
    let json = result.json
    #expect(json?["error"] is String && json?["message"] is String, "\(context): not a JSON error body: \(result.text)",
            sourceLocation: sourceLocation)
    let requestID = json?["requestId"] as? String
    #expect(requestID != nil && requestID == result.headers["x-request-id"], "\(context): requestId \(requestID ?? "nil")",
            sourceLocation: sourceLocation)
}

@Suite("Data node: every status the API answers", .limited(by: dataNodeSlots))
struct StatusTests {
    @Test("201, 200, 206, HEAD, 204 and 404 on a chunk's life", arguments: testedEngines)
    func lifecycle(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "status-life") { node, directory in
            let payload = try Payload.random(10_000, in: directory.files)
            let id = ChunkID.random()
            let created = try await node.put(id, payload)
            #expect(created.status == 201, "\(created)")
            #expect(created.json?["id"] as? String == id.description)
            let whole = try await node.get(id)
            #expect(whole.status == 200 && whole.body == payload.data, "\(whole.status)")
            #expect(whole.headers["accept-ranges"] == "bytes")
            let part = try await node.get(id, ["-H", "Range: bytes=10-19"])
            #expect(part.status == 206 && part.body == payload.data[10..<20])
            #expect(part.headers["content-range"] == "bytes 10-19/10000")
            let head = try await node.head(id)
            #expect(head.status == 200 && head.headers["content-length"] == "10000")
            let deleted = try await node.delete(id)
            #expect(deleted.status == 204 && deleted.body.isEmpty, "\(deleted)")
            #expect(!FileManager.default.fileExists(atPath: "\(directory.data)/chunks/\(id.shard)/\(id)"))
            expectError(try await node.get(id), 404, "GET after DELETE")
            expectError(try await node.delete(id), 404, "DELETE of a deleted chunk")
            expectError(try await node.get(ChunkID.random()), 404, "GET of an id never stored")
            expectError(try await node.delete(ChunkID.random()), 404, "DELETE of an id never stored")
            let headMissing = try await node.head(ChunkID.random())
            #expect(headMissing.status == 404)
        }
    }

    @Test("409 for a second PUT of an id; the first chunk stays", arguments: testedEngines)
    func conflict(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "status-409") { node, directory in
            let first = try Payload.random(5000, in: directory.files)
            let second = try Payload.random(5000, in: directory.files)
            let id = ChunkID.random()
            #expect(try await node.put(id, first).status == 201)
            expectError(try await node.put(id, first), 409, "same bytes again")
            expectError(try await node.put(id, second), 409, "other bytes")
            #expect(try await node.get(id).body == first.data)
            #expect(entries("\(directory.data)/tmp").isEmpty)
        }
    }

    @Test("413 above --chunk-size-max, 411 without Content-Length", arguments: testedEngines)
    func sizeLimits(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "status-413", arguments: ["--chunk-size-max", "1MiB"]) { node, directory in
            let tooLarge = try Payload.random(2 << 20, in: directory.files)
            let id = ChunkID.random()
            expectError(try await node.put(id, tooLarge), 413, "2 MiB PUT with a 1 MiB limit")
            expectError(try await node.get(id), 404, "after 413")
            let oneOver = try Payload.random((1 << 20) + 1, in: directory.files)
            expectError(try await node.put(ChunkID.random(), oneOver), 413, "1 MiB + 1 PUT with a 1 MiB limit")
            let atLimit = try Payload.random(1 << 20, in: directory.files)
            let atLimitID = ChunkID.random()
            #expect(try await node.put(atLimitID, atLimit).status == 201, "exactly --chunk-size-max is accepted")
            #expect(try await node.get(atLimitID).body == atLimit.data)
            let small = try Payload.random(3000, in: directory.files)
            let chunkedID = ChunkID.random()
            expectError(try await node.put(chunkedID, small, extra: ["-H", "Transfer-Encoding: chunked"]), 411, "chunked PUT")
            expectError(try await node.get(chunkedID), 404, "after 411")
            #expect(entries("\(directory.data)/tmp").isEmpty)
            #expect(try await node.get(path: "/health").status == 200)
        }
    }

    @Test("416 for ranges past the end, with Content-Range: bytes */length", arguments: testedEngines)
    func unsatisfiableRanges(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "status-416") { node, directory in
            let payload = try Payload.random(1000, in: directory.files)
            let id = ChunkID.random()
            #expect(try await node.put(id, payload).status == 201)
            for range in ["bytes=1000-", "bytes=1000-1000", "bytes=5000-6000"] {
                let result = try await node.get(id, ["-H", "Range: \(range)"])
                expectError(result, 416, range)
                #expect(result.headers["content-range"] == "bytes */1000", "\(range): \(result.headers)")
            }
            let last = try await node.get(id, ["-H", "Range: bytes=999-5000"])
            #expect(last.status == 206 && last.body == payload.data[999..<1000], "a range running past the end is cut")
            let empty = try Payload.random(0, in: directory.files)
            let emptyID = ChunkID.random()
            #expect(try await node.put(emptyID, empty).status == 201)
            for range in ["bytes=0-", "bytes=-10"] {
                let result = try await node.get(emptyID, ["-H", "Range: \(range)"])
                expectError(result, 416, "empty chunk \(range)")
                #expect(result.headers["content-range"] == "bytes */0")
            }
        }
    }

    @Test("422 for a wrong checksum leaves no chunk and no temporary file", arguments: testedEngines)
    func checksumMismatch(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "status-422") { node, directory in
            // One segment, and several: the first segments are on disk before the mismatch shows.
            for size in [1, 4097, (9 << 20) + 3] {
                let payload = try Payload.random(size, in: directory.files)
                defer { payload.remove() }
                let id = ChunkID.random()
                let wrong = CRC32C.headerValue(payload.crc ^ 0x0000_0100)
                let result = try await node.put(id, payload, checksum: "X-Flare-Checksum: \(wrong)")
                expectError(result, 422, "\(size) B with a wrong checksum")
                #expect((result.json?["message"] as? String)?.contains("checksum") == true)
                expectError(try await node.get(id), 404, "GET after 422")
                #expect(!FileManager.default.fileExists(atPath: "\(directory.data)/chunks/\(id.shard)/\(id)"))
                #expect(entries("\(directory.data)/tmp").isEmpty, "tmp/ after 422: \(entries("\(directory.data)/tmp"))")
                #expect(try await node.put(id, payload).status == 201, "the id is still free after a 422")
            }
        }
    }

    @Test("400 for bad ids and bad checksum headers, 405 for other methods", arguments: testedEngines)
    func badRequests(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "status-400") { node, directory in
            let payload = try Payload.random(100, in: directory.files)
            let good = "0123456789abcdef0123456789abcdef"
            let badIDs = [good.uppercased(), String(good.dropLast()), good + "0", "..%2F..%2Fetc", "0123456789abcdeg0123456789abcdef"]
            for id in badIDs {
                expectError(try await node.request("GET", "\(node.base)/chunk/\(id)"), 400, "GET \(id)")
                expectError(try await node.request("PUT", "\(node.base)/chunk/\(id)", upload: payload.path, ["-H", payload.checksumHeader]), 400, "PUT \(id)")
                expectError(try await node.request("DELETE", "\(node.base)/chunk/\(id)"), 400, "DELETE \(id)")
            }
            let traversal = "\(node.base)/chunk/../../etc/passwd"
            expectError(try await node.request("GET", traversal, ["--path-as-is"]), 400, "GET with dot segments")
            expectError(try await node.request("PUT", traversal, upload: payload.path, ["--path-as-is", "-H", payload.checksumHeader]), 400, "PUT with dot segments")
            let id = ChunkID.random()
            let badHeaders: [[String]] = [
                [], ["-H", "X-Flare-Checksum;"], ["-H", "X-Flare-Checksum: crc32c=1234567"], ["-H", "X-Flare-Checksum: crc32c=123456789"],
                ["-H", "X-Flare-Checksum: crc32c=zzzzzzzz"], ["-H", "X-Flare-Checksum: md5=12345678"],
                ["-H", "X-Flare-Checksum: \(hex8(payload.crc))"],
            ]
            for header in badHeaders {
                expectError(try await node.request("PUT", node.url(id), upload: payload.path, header), 400, "checksum header \(header)")
            }
            expectError(try await node.get(id), 404, "after refused PUTs")
            let post = try await node.request("POST", node.url(id), upload: payload.path)
            expectError(post, 405, "POST /chunk")
            #expect(post.headers["allow"]?.contains("PUT") == true)
            expectError(try await node.request("DELETE", "\(node.base)/health", signer: .some(nil)), 405, "DELETE /health (open, unsigned)")
            expectError(try await node.request("GET", "\(node.base)/nothing-here"), 404, "unknown route")
            #expect(entries("\(directory.data)/tmp").isEmpty)
            #expect(chunkFiles(directory.data).isEmpty, "refused requests created \(chunkFiles(directory.data))")
        }
    }
}
