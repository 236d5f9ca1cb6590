import FlareAdmin
import FlareIO
import FlareTestSupport
import Synchronization
import Testing

/// The admin token the CLI sends: read from its file as the api reads it, sent on every request.
@Suite("Admin token", .timeLimit(.minutes(1)))
struct AdminTokenTests {
    @Test("the first line that is neither blank nor a comment; a file with none, or with spaces in it, is refused")
    func parsing() throws {
        #expect(try AdminToken(parsing: "# admin\n\n  first-token-0123456789  \r\nsecond-token-0123456789\n", source: "f").value == "first-token-0123456789")
        #expect(throws: AdminError.tokenFile("f", why: "it holds no token")) { try AdminToken(parsing: "# nothing\n\n", source: "f") }
        #expect(throws: AdminError.tokenFile("f", why: "its first token holds spaces")) { try AdminToken(parsing: "two words\n", source: "f") }
    }

    @Test("sent as Authorization: Bearer on every request, and not at all without one", arguments: testedEngines)
    func sent(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "admin-token-\(engine)")
        defer { loop.shutdown() }
        let heads = Mutex<[String]>([])
        let peer = try ScriptedPeer(on: loop) { _, connection in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
            defer { buffer.deallocate() }
            while true {
                var text = ""
                while !text.hasSuffix("\r\n\r\n") {
                    guard try await connection.receive(into: buffer, timeout: .seconds(10)) == 1 else { return }
                    text += String(decoding: buffer, as: UTF8.self)
                }
                heads.withLock { $0.append(text) }
                try await connection.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            }
        }
        let endpoint = try APIEndpoint(parsing: "http://\(peer.address)")
        let withToken = try await HTTPAdminTransport(endpoint: endpoint, timeoutSeconds: 5, engine: engine,
                                                     token: try AdminToken(parsing: "the-admin-token-42\n", source: "f"))
        _ = try await withToken.send("GET", "/admin/nodes")
        _ = try await withToken.send("POST", "/admin/nodes/ab/drain")
        await withToken.close()
        let without = try await HTTPAdminTransport(endpoint: endpoint, timeoutSeconds: 5, engine: engine)
        _ = try await without.send("GET", "/health")
        await without.close()
        await peer.stop()
        let seen = heads.withLock { $0 }
        #expect(seen.count == 3, "\(seen)")
        #expect(seen.prefix(2).allSatisfy { $0.contains("\r\nAuthorization: Bearer the-admin-token-42\r\n") }, "\(seen)")
        #expect(seen.count == 3 && !seen[2].contains("Authorization"), "\(seen)")
    }
}
