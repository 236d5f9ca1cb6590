import FlareHTTP
import FlareIO
import FlareTestSupport
import Foundation
import Synchronization
import Testing

/// A server with an echo route on one loop of `kind`, for the duration of `body`.
func withEchoServer(_ kind: IOEngineKind, limits: HTTPLimits = HTTPLimits(),
                    _ body: (SocketAddress, EventLoop) async throws -> Void) async throws {
    try skipIfUnavailable(kind)
    let loop = try EventLoop.start(engine: kind, name: "http-\(kind)")
    defer { loop.shutdown() }
    let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loops: [loop], limits: limits) { request, response in
        switch (request.method, request.path) {
        case ("PUT", "/echo"), ("POST", "/echo"):
            // Read the whole body into memory we own, then send it back with a length.
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 20, alignment: 4096)
            defer { buffer.deallocate() }
            let count = try await request.body.readFully(into: buffer)
            guard request.body.isComplete else {
                try await response.respond(status: 413, body: "too large\n")
                return
            }
            try await response.writeHead(status: 200, headers: ["Content-Type": "application/octet-stream"], contentLength: count)
            try await response.writeBody(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        case ("GET", "/chunked"):
            try await response.writeHead(status: 200, contentLength: nil)
            for text in ["part one,", "part two"] {
                let pinned = UnsafeMutableRawBufferPointer.allocate(byteCount: text.utf8.count, alignment: 1)
                defer { pinned.deallocate() }
                pinned.copyBytes(from: text.utf8)
                try await response.writeBody(UnsafeRawBufferPointer(pinned))
            }
            try await response.finish()
        case ("GET", "/hello"), ("HEAD", "/hello"):
            try await response.respond(status: 200, body: "hello\n")
        case (_, "/reject-early"):
            // Refuses without reading the body: a 100-continue client never sends it.
            try await response.respond(status: 413, body: "no\n")
        default:
            try await response.respond(status: 404, body: "not found\n")
        }
    }
    defer { Task { await server.stop() } }
    try await body(server.localAddress, loop)
    await server.stop()
}

/// Runs a command, returning its exit status, stdout and stderr.
@discardableResult
func run(_ arguments: [String], stdin: Data? = nil) throws -> (status: Int32, out: Data, err: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, outData, String(decoding: errData, as: UTF8.self))
}

/// Sends raw bytes on a new connection and returns everything the server answers until it closes.
func rawExchange(_ address: SocketAddress, _ text: String, on loop: EventLoop, closeAfterSend: Bool = false) async throws -> String {
    try await loop.run {
        let connection = try await TCPConnection.connect(to: address, on: loop)
        try await connection.send(text)
        if closeAfterSend { await connection.shutdownWrite() }
        var answer: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try await connection.receive(into: buffer, timeout: .seconds(10))
            if count == 0 { break }
            answer.append(contentsOf: buffer[0..<count])
        }
        await connection.close()
        return String(decoding: answer, as: UTF8.self)
    }
}

func temporaryFile(bytes: Int, seed: UInt8) throws -> URL {
    let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("flare-http-\(UUID().uuidString)")
    var data = Data(count: bytes)
    data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
        var state = UInt32(seed) &+ 12345
        for i in 0..<bytes {
            state = state &* 1_103_515_245 &+ 12345
            raw[i] = UInt8(truncatingIfNeeded: state >> 16)
        }
    }
    try data.write(to: url)
    return url
}

@Suite("HTTP server and client over real sockets")
struct ServerTests {
    @Test("curl PUTs with 100-continue, Content-Length and chunked bodies are echoed byte for byte", arguments: testedEngines)
    func curlEcho(kind: IOEngineKind) async throws {
        try await withEchoServer(kind) { address, _ in
            for size in [0, 1, 4095, 4096, 2 << 20] {
                let file = try temporaryFile(bytes: size, seed: UInt8(size % 251))
                defer { try? FileManager.default.removeItem(at: file) }
                let original = try Data(contentsOf: file)
                var modes = [["--data-binary", "@\(file.path)"], ["-T", file.path]]
                // curl sends no body at all (not even the last chunk) for an empty chunked upload.
                if size > 0 { modes.append(["-T", file.path, "-H", "Transfer-Encoding: chunked"]) }
                for mode in modes {
                    let result = try run(["curl", "-sS", "-v", "-X", "PUT"] + mode + ["http://\(address)/echo"])
                    #expect(result.status == 0, "\(mode) \(size): \(result.err)")
                    #expect(result.out == original, "\(mode) size \(size): got \(result.out.count) bytes")
                    if size > 1 << 20 || (mode[0] == "-T" && size > 0) {
                        #expect(result.err.contains("HTTP/1.1 100 Continue"), "\(mode) \(size): no 100 Continue")
                    }
                }
            }
        }
    }

    @Test("keep-alive client: many requests, chunked responses, HEAD", arguments: testedEngines)
    func clientKeepAlive(kind: IOEngineKind) async throws {
        try await withEchoServer(kind) { address, _ in
            let loop = try EventLoop.start(engine: kind, name: "client")
            defer { loop.shutdown() }
            try await loop.run {
                let client = HTTPClient(loop: loop, connectionsPerPeerMax: 4)
                let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: 100_000, alignment: 4096)
                defer { payload.deallocate() }
                for i in 0..<payload.count { payload[i] = UInt8(truncatingIfNeeded: i * 7) }
                let back = UnsafeMutableRawBufferPointer.allocate(byteCount: 200_000, alignment: 4096)
                defer { back.deallocate() }
                for _ in 0..<50 {
                    let count = try await client.execute(method: "PUT", target: "/echo", body: UnsafeRawBufferPointer(payload), to: address) { response in
                        #expect(response.status == 200)
                        return try await response.body.readFully(into: back)
                    }
                    #expect(count == payload.count && memcmp(back.baseAddress!, payload.baseAddress!, count) == 0)
                }
                let chunked = try await client.execute(method: "GET", target: "/chunked", to: address) { response in
                    #expect(response.body.framing == .chunked)
                    let count = try await response.body.readFully(into: back)
                    return String(decoding: back[0..<count], as: UTF8.self)
                }
                #expect(chunked == "part one,part two")
                let headStatus = try await client.execute(method: "HEAD", target: "/hello", to: address) { response in
                    let bodyBytes = try await response.body.readFully(into: back)
                    #expect(bodyBytes == 0)
                    #expect(response.headers["Content-Length"] == "6")
                    return response.status
                }
                #expect(headStatus == 200)
                let missing = try await client.execute(method: "GET", target: "/nope", to: address) { response in
                    _ = try await response.body.readFully(into: back)
                    return response.status
                }
                #expect(missing == 404)
                await client.closeIdle()
            }
        }
    }

    @Test("hostile requests on the wire get their status and a closed connection", arguments: testedEngines)
    func hostileOnTheWire(kind: IOEngineKind) async throws {
        try await withEchoServer(kind) { address, loop in
            let cases: [(String, String)] = [
                ("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"),
                ("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 6\r\n\r\nabcd", "400"),
                ("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", "400"),
                ("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", "400"),
                ("GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "a", count: 20000) + "\r\n\r\n", "431"),
                ("PUT /echo HTTP/1.1\r\nHost: h\r\nExpect: something-else\r\nContent-Length: 1\r\n\r\nx", "417"),
                ("GET / HTTP/3.0\r\nHost: h\r\n\r\n", "505"),
            ]
            for (request, expected) in cases {
                let answer = try await rawExchange(address, request, on: loop)
                #expect(answer.hasPrefix("HTTP/1.1 \(expected) "), "\(request.prefix(60).debugDescription) → \(answer.prefix(80).debugDescription)")
                #expect(answer.contains("\"requestId\""), "error body is JSON")
            }
            // A smuggled second request after a refused one is never served.
            let smuggle = "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: h\r\n\r\n"
            let answer = try await rawExchange(address, smuggle, on: loop)
            #expect(!answer.contains("hello\n"))
        }
    }

    @Test("pipelined keep-alive requests are answered in order", arguments: testedEngines)
    func pipelined(kind: IOEngineKind) async throws {
        try await withEchoServer(kind) { address, loop in
            let two = "GET /hello HTTP/1.1\r\nHost: h\r\n\r\nPUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
            let answer = try await rawExchange(address, two, on: loop)
            #expect(answer.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
            #expect(answer.hasSuffix("abc"))
        }
    }

    @Test("slow heads get 408, truncated bodies are errors, 100-continue refusals close", arguments: testedEngines)
    func slowAndTruncated(kind: IOEngineKind) async throws {
        var limits = HTTPLimits()
        limits.headTimeoutSeconds = 1
        limits.bodyTimeoutSeconds = 1
        try await withEchoServer(kind, limits: limits) { address, loop in
            let slow = try await rawExchange(address, "GET /hello HTTP/1.1\r\nHost:", on: loop)
            #expect(slow.hasPrefix("HTTP/1.1 408 "), "\(slow.prefix(40))")
            // The client announces 100 bytes, sends 10 and closes: no 200, no echo.
            let truncated = try await rawExchange(address, "PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789",
                                                  on: loop, closeAfterSend: true)
            #expect(!truncated.contains("200 OK"))
            // A stalled body times out with 408.
            let stalled = try await rawExchange(address, "PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789", on: loop)
            #expect(stalled.hasPrefix("HTTP/1.1 408 "), "\(stalled.prefix(40))")
            let early = try await rawExchange(address, "PUT /reject-early HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n", on: loop)
            #expect(early.hasPrefix("HTTP/1.1 413 ") && early.contains("Connection: close") && !early.contains("100 Continue"))
        }
    }

    @Test("an absolute-form request target is served like its path", arguments: testedEngines)
    func absoluteFormTarget(kind: IOEngineKind) async throws {
        try await withEchoServer(kind) { address, loop in
            let answer = try await rawExchange(address, "GET http://\(address)/hello HTTP/1.1\r\nHost: elsewhere\r\nConnection: close\r\n\r\n", on: loop)
            #expect(answer.hasPrefix("HTTP/1.1 200 OK"), "\(answer.prefix(80))")
        }
    }

    @Test("Expect: 100-continue on an empty body still gets its 100 before the answer, and the connection stays usable", arguments: testedEngines)
    func continueOnEmptyBody(kind: IOEngineKind) async throws {
        try await withEchoServer(kind) { address, loop in
            let two = "PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nExpect: 100-Continue\r\n\r\n"
                + "PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
            let answer = try await rawExchange(address, two, on: loop)
            #expect(answer.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), "\(answer.prefix(80))")
            #expect(answer.components(separatedBy: "HTTP/1.1 200 OK").count == 3 && answer.hasSuffix("abc"), "\(answer)")
        }
    }
}

@Suite("What a response cut short counts")
struct CutShortResponseTests {
    @Test("a reader that stops: the send times out, and the exchange counts the bytes that did go out", arguments: testedEngines)
    func countsPartialSend(kind: IOEngineKind) async throws {
        try skipIfUnavailable(kind)
        let loop = try EventLoop.start(engine: kind, name: "cut-\(kind)")
        defer { loop.shutdown() }
        var limits = HTTPLimits()
        limits.bodyTimeoutSeconds = 1
        let records = Mutex<[HTTPExchangeRecord]>([])
        let size = 64 << 20
        let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loops: [loop], limits: limits,
                                    onExchange: { record in records.withLock { $0.append(record) } }) { _, response in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
            defer { buffer.deallocate() }
            buffer.initializeMemory(as: UInt8.self, repeating: 0x61)
            try await response.writeHead(status: 200, contentLength: size)
            try await response.writeBody(UnsafeRawBufferPointer(buffer))
        }
        let address = server.localAddress
        // A client that asks and never reads: the kernel's buffers fill, then the server's send stalls.
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        var small: Int32 = 4096
        setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var peer = sockaddr_in()
        peer.sin_family = sa_family_t(AF_INET)
        peer.sin_port = UInt16(address.port).bigEndian
        peer.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        let request = "GET /big HTTP/1.1\r\nHost: h\r\n\r\n"
        _ = request.withCString { send(client, $0, strlen($0), 0) }
        var recorded: HTTPExchangeRecord?
        for _ in 0..<100 {
            recorded = records.withLock { $0.first }
            if recorded != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        await server.stop()
        let record = try #require(recorded, "the stalled exchange was never recorded")
        #expect(record.error != nil, "\(record)")
        #expect(record.bytesOut > 0 && record.bytesOut < size, "bytes out: \(record.bytesOut)")
    }
}

@Suite("At the connection limit")
struct ConnectionLimitTests {
    /// Reads one response (head and a Content-Length body) from `connection`.
    static func readResponse(_ connection: TCPConnection) async throws -> String {
        var answer: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let text = String(decoding: answer, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let length = text[..<end.lowerBound].split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text[..<end.upperBound].utf8.count >= length { return text }
            }
            let count = try await connection.receive(into: buffer, timeout: .seconds(10))
            if count == 0 { return text }
            answer.append(contentsOf: buffer[0..<count])
        }
    }

    @Test("a new connection closes the one idle longest; with none idle it hears 503 at once", arguments: testedEngines)
    func limit(kind: IOEngineKind) async throws {
        var limits = HTTPLimits()
        limits.connectionsPerLoopMax = 3
        try await withEchoServer(kind, limits: limits) { address, loop in
            try await loop.run {
                // Three kept-alive connections, idle after one request each; the first is the oldest.
                var idle: [TCPConnection] = []
                for _ in 0..<3 {
                    let connection = try await TCPConnection.connect(to: address, on: loop)
                    try await connection.send("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n")
                    #expect(try await Self.readResponse(connection).hasPrefix("HTTP/1.1 200 OK"))
                    idle.append(connection)
                    try await loop.sleep(for: .milliseconds(20))
                }
                let fourth = try await TCPConnection.connect(to: address, on: loop)
                try await fourth.send("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n")
                #expect(try await Self.readResponse(fourth).hasPrefix("HTTP/1.1 200 OK"), "a newcomer at the limit was not served")
                // The oldest was closed to make room (it reads the end of the stream); the others still serve.
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
                defer { buffer.deallocate() }
                #expect(try await idle[0].receive(into: buffer, timeout: .seconds(5)) == 0, "the longest-idle connection stayed open")
                try await idle[2].send("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n")
                #expect(try await Self.readResponse(idle[2]).hasPrefix("HTTP/1.1 200 OK"))
                // Three busy ones (a body still to come): nobody idle, so a newcomer is refused at once.
                var busy: [TCPConnection] = []
                for connection in [idle[1], idle[2], fourth] {
                    try await connection.send("PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789")
                    busy.append(connection)
                }
                try await loop.sleep(for: .milliseconds(100))
                let refused = try await TCPConnection.connect(to: address, on: loop)
                try await refused.send("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n")
                let answer = try await Self.readResponse(refused)
                #expect(answer.hasPrefix("HTTP/1.1 503 ") && answer.contains("Retry-After: 1") && answer.contains("Connection: close"), "\(answer)")
                for connection in idle + [fourth, refused] { await connection.close() }
            }
        }
    }
}
