import FlareHTTP
import FlareIO
import FlareTestSupport
import Synchronization
import Testing

let okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"

/// A GET through `client` that returns the body's text.
func getText(_ client: HTTPClient, _ target: String, _ address: SocketAddress, timeout: Duration) async throws -> String {
    try await client.execute(method: "GET", target: target, to: address, timeout: timeout) { response in
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { buffer.deallocate() }
        let count = try await response.body.readFully(into: buffer)
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}

/// The client's `timeout` on real sockets: a hung peer costs one timeout and one connection,
/// never a retry; only a connection the peer had closed is retried.
@Suite("HTTP client: a timeout is a timeout", .timeLimit(.minutes(2)))
struct ClientTimeoutTests {
    @Test("a peer that answers once, then takes the next request on the kept-alive connection and never answers: one timeout, no retry",
          arguments: testedEngines)
    func silentOnReusedConnection(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "silent-\(engine)")
        defer { loop.shutdown() }
        let peer = try ScriptedPeer(on: loop) { _, connection in
            guard try await readRequestHead(connection) else { return }
            try await connection.send(okResponse)
            guard try await readRequestHead(connection) else { return }
            try await waitForClientClose(connection)
        }
        let timeout = Duration.milliseconds(500)
        let outcome: (first: String, error: HTTPError?, waited: Duration) = try await loop.run {
            let client = HTTPClient(loop: loop)
            let first = try await getText(client, "/first", peer.address, timeout: timeout)
            let started = ContinuousClock.now
            do {
                _ = try await getText(client, "/second", peer.address, timeout: timeout)
                return (first, nil, .now - started)
            } catch let error as HTTPError {
                let waited = ContinuousClock.now - started
                await client.closeIdle()
                return (first, error, waited)
            }
        }
        await peer.stop()
        #expect(outcome.first == "ok\n")
        #expect(peer.connections == 1, "the timed-out request was sent again on \(peer.connections - 1) more connection(s)")
        guard case .timedOut? = outcome.error else {
            Issue.record("expected a timeout, got \(outcome.error.map { "\($0)" } ?? "an answer")")
            return
        }
        #expect(outcome.waited >= timeout - .milliseconds(50), "the timeout fired after \(outcome.waited), before \(timeout)")
    }

    @Test("a fresh connection to a peer that accepts and never answers times out, once", arguments: testedEngines)
    func silentOnFreshConnection(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "silent-fresh-\(engine)")
        defer { loop.shutdown() }
        let peer = try ScriptedPeer(on: loop) { _, connection in
            guard try await readRequestHead(connection) else { return }
            try await waitForClientClose(connection)
        }
        let error: HTTPError? = try await loop.run {
            let client = HTTPClient(loop: loop)
            do {
                _ = try await getText(client, "/never", peer.address, timeout: .milliseconds(500))
                return nil
            } catch let error as HTTPError {
                return error
            }
        }
        await peer.stop()
        #expect(peer.connections == 1)
        guard case .timedOut? = error else {
            Issue.record("expected a timeout, got \(error.map { "\($0)" } ?? "an answer")")
            return
        }
    }

    @Test("a head, then a body that stops arriving: the read times out after the request's timeout, not the body limit",
          arguments: testedEngines)
    func bodyStalls(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "stall-\(engine)")
        defer { loop.shutdown() }
        let peer = try ScriptedPeer(on: loop) { _, connection in
            guard try await readRequestHead(connection) else { return }
            try await connection.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            try await waitForClientClose(connection)
        }
        // The client's body limit stays 30 s: a read bounded by it, not by the request's
        // timeout, meets the peer's 10 s hang guard and sees a closed connection instead.
        let outcome: (read: Int, error: HTTPError?) = try await loop.run {
            let client = HTTPClient(loop: loop)
            var read = 0
            do {
                try await client.execute(method: "GET", target: "/stall", to: peer.address, timeout: .milliseconds(500)) { response in
                    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
                    defer { buffer.deallocate() }
                    _ = try await response.body.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<100])) { read += $0.count }
                }
                return (read, nil)
            } catch let error as HTTPError {
                return (read, error)
            }
        }
        await peer.stop()
        #expect(peer.connections == 1)
        #expect(outcome.read == 10, "the bytes before the stall were not delivered")
        guard case .timedOut? = outcome.error else {
            Issue.record("expected a timeout between body bytes, got \(outcome.error.map { "\($0)" } ?? "the whole body")")
            return
        }
    }

    @Test("a kept-alive connection the peer closed is retried once on a fresh one, and the request succeeds",
          arguments: testedEngines)
    func staleConnectionRetried(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "stale-\(engine)")
        defer { loop.shutdown() }
        let closedFirst = Mutex(false)
        let peer = try ScriptedPeer(on: loop) { number, connection in
            guard try await readRequestHead(connection) else { return }
            try await connection.send(okResponse)
            if number == 1 {
                // Like a server closing an idle connection: it answered, then it is gone.
                await connection.close()
                closedFirst.withLock { $0 = true }
                return
            }
            try await waitForClientClose(connection)
        }
        let answers: [String] = try await loop.run {
            let client = HTTPClient(loop: loop)
            let first = try await getText(client, "/first", peer.address, timeout: .seconds(5))
            // Let the peer's FIN reach the client's socket before the connection is reused.
            while !closedFirst.withLock({ $0 }) { try await loop.sleep(for: .milliseconds(10)) }
            try await loop.sleep(for: .milliseconds(50))
            let second = try await getText(client, "/second", peer.address, timeout: .seconds(5))
            await client.closeIdle()
            return [first, second]
        }
        await peer.stop()
        #expect(answers == ["ok\n", "ok\n"])
        #expect(peer.connections == 2, "the stale connection was not replaced by exactly one fresh one")
    }
}
