import FlareHTTP
import FlareIO
import FlareTestSupport
import Synchronization
import Testing

@Suite("HTTP server: exchange records")
struct ExchangeTimingTests {
    /// The access log and the latency histograms are fed from these records: on a kept-alive
    /// connection, the time the client let it sit idle is not the request's.
    @Test("a request's duration starts at its first byte, not when a kept-alive connection began waiting", arguments: testedEngines)
    func idleTimeIsNotRequestTime(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "timing-\(engine)")
        defer { loop.shutdown() }
        let records = Mutex<[HTTPExchangeRecord]>([])
        let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loops: [loop],
                                    onExchange: { record in records.withLock { $0.append(record) } }) { _, response in
            try await response.respond(status: 200, body: "hello\n")
        }
        let address = server.localAddress
        let idle = Duration.seconds(1)
        let secondSent = Mutex(ContinuousClock.now)
        try await loop.run {
            let connection = try await TCPConnection.connect(to: address, on: loop)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
            defer { buffer.deallocate() }
            for index in 0..<2 {
                if index == 1 {
                    try await loop.sleep(for: idle)
                    secondSent.withLock { $0 = .now }
                }
                try await connection.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                var answer = ""
                while !answer.hasSuffix("hello\n") {
                    let count = try await connection.receive(into: buffer, timeout: .seconds(10))
                    if count == 0 { break }
                    answer += String(decoding: buffer[0..<count], as: UTF8.self)
                }
                #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
            }
            await connection.close()
        }
        await server.stop()
        let seen = records.withLock { $0 }
        #expect(seen.count == 2)
        if seen.count == 2 {
            // The server cannot see a byte before the client sends it: a start before that is
            // the idle wait's (a second earlier), however slow the machine.
            let sent = secondSent.withLock { $0 }
            #expect(seen[1].started >= sent, "second request started \(sent - seen[1].started) before it was sent, after \(idle) idle")
        }
    }
}
