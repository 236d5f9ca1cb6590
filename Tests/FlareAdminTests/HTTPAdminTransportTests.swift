import FlareAdmin
import FlareIO
import FlareTestSupport
import Testing

/// The HTTP transport on real sockets, on both engines: answers, refusals, silence.
@Suite("Admin client over HTTP", .timeLimit(.minutes(2)))
struct HTTPAdminTransportTests {
    /// A transport to `address`.
    func transport(_ engine: IOEngineKind, _ address: SocketAddress, timeoutSeconds: Int = 10) async throws -> HTTPAdminTransport {
        try await HTTPAdminTransport(endpoint: APIEndpoint(parsing: "http://\(address)"), timeoutSeconds: timeoutSeconds, engine: engine)
    }

    /// The error `body` threw, `nil` when it returned.
    func failure(of body: () async throws -> Void) async -> Error? {
        do {
            try await body()
            return nil
        } catch {
            return error
        }
    }

    @Test("an answer comes back whole; an error answer's message is read from its JSON", arguments: testedEngines)
    func answers(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "admin-peer-\(engine)")
        defer { loop.shutdown() }
        let error = #"{"error":"Not Found","message":"no node 77 in the layout","requestId":"x"}"#
        let peer = try ScriptedPeer(on: loop) { _, connection in
            guard try await readRequestHead(connection) else { return }
            try await connection.send("HTTP/1.1 200 OK\r\nContent-Length: \(Fixture.layout.utf8.count)\r\n\r\n\(Fixture.layout)")
            guard try await readRequestHead(connection) else { return }
            try await connection.send("HTTP/1.1 404 Not Found\r\nContent-Length: \(error.utf8.count)\r\n\r\n\(error)")
            try await waitForClientClose(connection)
        }
        let client = try await transport(engine, peer.address)
        let api = AdminAPI(transport: client)
        var nodes = 0
        let layout = await failure { nodes = try await api.layout().value.nodes.count }
        let drain = await failure { _ = try await api.nodeAction("77", "drain") }
        await client.close()
        await peer.stop()
        #expect(layout == nil && nodes == 3, "\(layout.map { "\($0)" } ?? "\(nodes) nodes")")
        #expect(drain as? AdminError == .api(status: 404, message: "no node 77 in the layout"), "\(drain.map { "\($0)" } ?? "no error")")
        #expect(peer.connections == 1, "the two requests took \(peer.connections) connections, not one kept alive")
    }

    @Test("nothing listening: connection refused, at once", arguments: testedEngines)
    func refused(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "admin-free-\(engine)")
        defer { loop.shutdown() }
        // A port the kernel just handed out and nobody listens on any more.
        let address: SocketAddress = try await loop.run {
            let listener = try TCPListener(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop)
            let address = listener.localAddress
            await listener.close()
            return address
        }
        let client = try await transport(engine, address)
        let refused = await failure { _ = try await client.send("GET", "/admin/nodes") }
        await client.close()
        #expect(refused as? AdminError == .unreachable(api: "http://\(address)", reason: "connection refused"))
        #expect("\(refused.map { "\($0)" } ?? "no error")" == "cannot reach the api at http://\(address): connection refused")
        // Refused, not timed out: the error says which, so no clock is needed (a loaded
        // machine makes any bound on the time flaky).
    }

    @Test("a peer that accepts and never answers: a timeout after --timeout, not a hang", arguments: testedEngines)
    func silent(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "admin-silent-\(engine)")
        defer { loop.shutdown() }
        let peer = try ScriptedPeer(on: loop) { _, connection in
            guard try await readRequestHead(connection) else { return }
            try await waitForClientClose(connection)
        }
        let started = ContinuousClock.now
        let client = try await transport(engine, peer.address, timeoutSeconds: 1)
        let silence = await failure { _ = try await client.send("GET", "/health") }
        let waited = ContinuousClock.now - started
        await client.close()
        await peer.stop()
        #expect(silence as? AdminError == .timedOut(api: "http://\(peer.address)", seconds: 1), "\(silence.map { "\($0)" } ?? "no error")")
        // At least the timeout (a floor holds on any machine; a ceiling would not).
        #expect(waited >= .milliseconds(950), "waited \(waited)")
    }
}
