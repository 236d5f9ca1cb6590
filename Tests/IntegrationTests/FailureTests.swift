import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Data nodes that die and clients that vanish.
@Suite("Failures")
struct FailureTests {
    @Test("one copy per chunk (--replicas 1), a killed data node: its objects answer 503 from the refused connection, PUTs go to the others",
          arguments: testedEngines)
    func dataNodeDown(engine: IOEngineKind) async throws {
        try await withCluster(engine, "dndown", apiOptions: ["--chunk-size", "64KiB", "--replicas", "1"]) { cluster in
            // Where each object's chunks went, from the data nodes' chunk lists before and after its PUT.
            var nodesOf: [String: Set<Int>] = [:]
            var files: [String: String] = [:]
            var last = try await cluster.chunksPerNode()
            let objects = (0..<12).map { ("one/\($0)", 1000 + $0) } + (0..<3).map { ("many/\($0)", 20 * 65536 + $0) }
            for (key, size) in objects {
                files[key] = try await cluster.randomFile(key.replacingOccurrences(of: "/", with: "-"), size: size)
                #expect(try await cluster.put(key, file: files[key]!).status == 201)
                let now = try await cluster.chunksPerNode()
                nodesOf[key] = Set(now.indices.filter { !now[$0].subtracting(last[$0]).isEmpty })
                last = now
            }
            let singles = objects.prefix(12).map(\.0)
            let victim = (0..<3).max { a, b in
                singles.filter { nodesOf[$0] == [a] }.count < singles.filter { nodesOf[$0] == [b] }.count
            }!
            await cluster.dataNodes[victim].stop(SIGKILL, withinSeconds: 5)

            for key in singles {
                let get = try await cluster.get(key, to: files[key]! + ".out")
                if nodesOf[key] == [victim] {
                    #expect(get.status == 503, "\(key) lives on the dead node: \(get)")
                    let body = try String(contentsOfFile: files[key]! + ".out", encoding: .utf8)
                    let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
                    #expect(json?["error"] != nil && get.headers["content-type"] == "application/json", "\(key): \(body)")
                    // Told by the refusal, not by waiting out --datanode-timeout.
                    #expect(Self.answeredByRefusal(json), "\(key): \(body)")
                } else {
                    #expect(get.status == 200 && get.curlExit == 0, "\(key) lives on a live node: \(get)")
                    #expect(try await sameBytes(files[key]!, files[key]! + ".out", scratch: cluster.scratch.tmp))
                }
            }
            // A many-chunk object with a chunk on the dead node can never be served whole. When
            // the missing chunk is not among the first the head may already be out: then the
            // only signal left is a short body. A 503 was told by the refusal, not a timeout.
            for key in objects.suffix(3).map(\.0) where nodesOf[key]!.contains(victim) {
                let out = files[key]! + ".out"
                let get = try await cluster.get(key, to: out)
                let whole = get.status == 200 && get.curlExit == 0
                #expect(!whole, "\(key) has a chunk on the dead node but was served whole: \(get)")
                #expect(get.status == 503 || (get.status == 200 && get.curlExit != 0), "\(key): \(get)")
                if get.status == 503 {
                    let json = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out)))) as? [String: Any]
                    #expect(Self.answeredByRefusal(json), "\(key): \(get)")
                }
                print("dead data node (\(engine)), \(key): HTTP \(get.status), curl exit \(get.curlExit), \(fileSize(out)) bytes")
            }

            for index in 0..<6 {
                let key = "after/\(index)"
                let file = try await cluster.randomFile("after-\(index)", size: 10 * 65536 + index)
                let put = try await cluster.put(key, file: file)
                #expect(put.status == 201, "PUT with a data node down: \(put)")
                let get = try await cluster.get(key, to: file + ".out")
                #expect(get.status == 200 && get.curlExit == 0, "\(key): \(get)")
                #expect(try await sameBytes(file, file + ".out", scratch: cluster.scratch.tmp))
            }
        }
    }

    /// Whether a 503's message says the dead node refused the connection, and nothing timed out.
    static func answeredByRefusal(_ json: [String: Any]?) -> Bool {
        guard let message = json?["message"] as? String else { return false }
        return message.contains("ECONNREFUSED") && !message.contains("ETIMEDOUT") && !message.contains("timed out")
    }

    @Test("a client that sends half a body and leaves: nothing committed, its chunks deleted", arguments: testedEngines)
    func halfBody(engine: IOEngineKind) async throws {
        try await withCluster(engine, "halfbody", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let kept = try await cluster.randomFile("kept", size: 3 * 65536)
            #expect(try await cluster.put("kept", file: kept).status == 201)
            let baseline = try await cluster.chunksPerNode()

            // 300 000 of 1 000 000 bytes: four whole 64 KiB chunks reach the data nodes first.
            let putsBefore = try await cluster.dataNodeRequests("PUT")
            try await sendHalfBody(to: cluster.api.port, key: "half", engine: engine)
            let cleaned = try await cluster.poll(seconds: 3) {
                let deletes = try await cluster.dataNodeRequests("DELETE")
                let chunks = try await cluster.chunksPerNode()
                return deletes >= 4 && chunks == baseline
            }
            let putsAfter = try await cluster.dataNodeRequests("PUT")
            #expect(putsAfter - putsBefore >= 4, "the upload should have stored its first chunks (\(putsAfter - putsBefore) PUTs)")
            #expect(cleaned, "chunks of the abandoned upload are still on the data nodes after 3 s")
            #expect(try await cluster.get("half").status == 404)

            // The same with curl cut off by --max-time while its body is still flowing.
            let big = try await cluster.randomFile("big", size: 8 << 20)
            let cut = try await cluster.put("cut", file: big, extra: ["--limit-rate", "2M", "--max-time", "1"])
            #expect(cut.curlExit == 28, "curl should have timed out mid-body: \(cut)")
            let cleanedAgain = try await cluster.poll(seconds: 3) { try await cluster.chunksPerNode() == baseline }
            #expect(cleanedAgain, "chunks of the cut upload are still on the data nodes after 3 s")
            #expect(try await cluster.get("cut").status == 404)
            #expect(try await cluster.listKeys() == ["kept"])
        }
    }

    /// Opens a connection, sends a head announcing 1 000 000 bytes and 300 000 of them, closes.
    private func sendHalfBody(to port: UInt16, key: String, engine: IOEngineKind) async throws {
        let loop = try EventLoop.start(engine: engine, name: "half-body-client")
        defer { loop.shutdown() }
        let address = try SocketAddress(host: "127.0.0.1", port: port)
        try await loop.run {
            let connection = try await TCPConnection.connect(to: address, on: loop)
            try await connection.send("PUT /object/\(key) HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
            let body = UnsafeMutableRawBufferPointer.allocate(byteCount: 300_000, alignment: 16)
            defer { body.deallocate() }
            var generator = SystemRandomNumberGenerator()
            for index in 0..<body.count { body[index] = UInt8.random(in: 0...255, using: &generator) }
            try await connection.send(UnsafeRawBufferPointer(body))
            await connection.close()
        }
    }
}
