import FlareHTTP
import FlareIO
import FlareTestSupport
import Synchronization
import Testing

/// `HTTPClient.beforeSend`, where api nodes sign their requests: it sees what is sent
/// (`Content-Length` included), what it adds goes out, and a retry on a fresh connection is a
/// new attempt that it is called for again — a signature's nonce is never sent twice.
@Suite("HTTP client: beforeSend", .timeLimit(.minutes(1)))
struct BeforeSendTests {
    /// Reads one request head from `connection` as text; nil at end of stream.
    static func requestHead(_ connection: TCPConnection) async throws -> String? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
        defer { buffer.deallocate() }
        var text = ""
        while !text.hasSuffix("\r\n\r\n") {
            guard try await connection.receive(into: buffer, timeout: .seconds(10)) == 1 else { return nil }
            text += String(decoding: buffer, as: UTF8.self)
        }
        return text
    }

    @Test("called once per attempt with the headers as sent; its header goes out; the stale-connection retry is signed anew",
          arguments: testedEngines)
    func perAttempt(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "before-send-\(engine)")
        defer { loop.shutdown() }
        let heads = Mutex<[String]>([])
        let closedFirst = Mutex(false)
        let peer = try ScriptedPeer(on: loop) { number, connection in
            guard let head = try await Self.requestHead(connection) else { return }
            heads.withLock { $0.append(head) }
            try await connection.send(okResponse)
            if number == 1 {
                // Answered, then gone, as a server closing an idle connection: the next request
                // on it fails before any answer and is retried on a fresh connection.
                await connection.close()
                closedFirst.withLock { $0 = true }
                return
            }
            try await waitForClientClose(connection)
        }
        let seen = Mutex<[String]>([])
        try await loop.run {
            let client = HTTPClient(loop: loop)
            let attempts = Mutex(0)
            client.beforeSend = { method, target, headers in
                let attempt = attempts.withLock { $0 += 1; return $0 }
                seen.withLock { $0.append("\(method) \(target) length=\(headers["Content-Length"] ?? "none")") }
                headers.set("X-Attempt", "\(attempt)")
            }
            _ = try await getText(client, "/first", peer.address, timeout: .seconds(5))
            while !closedFirst.withLock({ $0 }) { try await loop.sleep(for: .milliseconds(10)) }
            try await loop.sleep(for: .milliseconds(50))
            let body = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
            defer { body.deallocate() }
            body.copyBytes(from: Array("four".utf8))
            _ = try await client.execute(method: "PUT", target: "/second", body: UnsafeRawBufferPointer(body), to: peer.address,
                                         timeout: .seconds(5)) { response in
                _ = try await response.body.discard(bytesMax: 1024)
                return response.status
            }
            await client.closeIdle()
        }
        await peer.stop()
        #expect(seen.withLock { $0 } == ["GET /first length=none", "PUT /second length=4", "PUT /second length=4"])
        let received = heads.withLock { $0 }
        #expect(received.count == 2 && received[0].contains("X-Attempt: 1\r\n") && received[1].contains("X-Attempt: 3\r\n"),
                "the peer saw \(received)")
        #expect(received.last?.contains("Content-Length: 4\r\n") == true, "\(received)")
        #expect(peer.connections == 2)
    }
}
