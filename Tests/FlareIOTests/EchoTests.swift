import FlareIO
import FlareTestSupport
import Glibc
import Testing

@Suite("Sockets: echo, bulk transfer, resets")
struct SocketTests {
    /// An echo server on its own loop; stops when `connections` clients have finished.
    static func startEchoServer(kind: IOEngineKind, connections: Int) throws -> (EventLoop, SocketAddress, Task<Void, Error>) {
        try skipIfUnavailable(kind)
        let loop = try EventLoop.start(engine: kind, name: "echo-\(kind)")
        let listener = try TCPListener(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop)
        let task = loop.spawn {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<connections {
                    let connection = try await listener.accept()
                    group.addTask {
                        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 4096)
                        defer { buffer.deallocate() }
                        while true {
                            let count = try await connection.receive(into: buffer)
                            if count == 0 { break }
                            try await connection.send(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                        }
                        await connection.close()
                    }
                }
                try await group.waitForAll()
            }
            await listener.close()
        }
        return (loop, listener.localAddress, task)
    }

    @Test("200 concurrent connections each echo 1 MiB", arguments: testedEngines)
    func echo200(kind: IOEngineKind) async throws {
        let connections = 200
        let payloadBytes = 1 << 20
        let (serverLoop, address, server) = try Self.startEchoServer(kind: kind, connections: connections)
        defer { serverLoop.shutdown() }
        let mismatches = try await onLoop(kind) { loop in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<connections {
                    group.addTask {
                        let payload = TestBytes(count: payloadBytes, seed: UInt64(i))
                        let echoed = TestBytes(count: payloadBytes, seed: 999)
                        // A generous connect timeout: at the start of a full parallel run the
                        // default 5 s was once not enough for 200 connects, and one client giving
                        // up failed the server's task group, which reset every other connection.
                        let connection = try await TCPConnection.connect(to: address, on: loop, timeout: .seconds(60))
                        async let sent: Void = {
                            try await connection.send(payload.bytes)
                            await connection.shutdownWrite()
                        }()
                        try await connection.receiveExactly(into: echoed.pointer)
                        try await sent
                        await connection.close()
                        return memcmp(payload.pointer.baseAddress!, echoed.pointer.baseAddress!, payloadBytes) == 0
                    }
                }
                var bad = 0
                for try await ok in group where !ok { bad += 1 }
                return bad
            }
        }
        try await server.value
        #expect(mismatches == 0)
    }

    @Test("1 GiB over loopback arrives with the same checksum", arguments: testedEngines)
    func oneGiB(kind: IOEngineKind) async throws {
        let totalBytes = 1 << 30
        let blockBytes = 4 << 20
        try skipIfUnavailable(kind)
        let receiverLoop = try EventLoop.start(engine: kind, name: "recv-\(kind)")
        defer { receiverLoop.shutdown() }
        let listener = try TCPListener(address: SocketAddress(host: "127.0.0.1", port: 0), loop: receiverLoop)
        let receiver = receiverLoop.spawn { () -> (Int, UInt64) in
            let connection = try await listener.accept()
            let buffer = TestBytes(count: blockBytes)
            var checksum = StreamChecksum()
            var received = 0
            while true {
                let count = try await connection.receive(into: buffer.pointer)
                if count == 0 { break }
                checksum.update(UnsafeRawBufferPointer(rebasing: buffer.pointer[0..<count]))
                received += count
            }
            await connection.close()
            await listener.close()
            return (received, checksum.value)
        }
        let sentChecksum = try await onLoop(kind) { loop in
            let connection = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            let blocks = [TestBytes(count: blockBytes, seed: 1), TestBytes(count: blockBytes, seed: 2)]
            var checksum = StreamChecksum()
            for i in 0..<(totalBytes / blockBytes) {
                let block = blocks[i % 2]
                checksum.update(block.bytes)
                try await connection.send(block.bytes)
            }
            await connection.close()
            return checksum.value
        }
        let (received, receivedChecksum) = try await receiver.value
        #expect(received == totalBytes)
        #expect(receivedChecksum == sentChecksum)
    }

    @Test("a peer reset mid-transfer is a typed connectionReset error", arguments: testedEngines)
    func peerReset(kind: IOEngineKind) async throws {
        try await onLoop(kind) { loop in
            let listener = try TCPListener(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop)
            async let accepted = listener.accept()
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            let server = try await accepted
            let chunk = TestBytes(count: 64 * 1024)
            try await client.send(chunk.bytes)
            // Unread data plus SO_LINGER 0 makes close() send an RST.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(server.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            await server.close()
            let buffer = TestBytes(count: 4096)
            let caught = await ioError {
                for _ in 0..<1000 {
                    _ = try await client.receive(into: buffer.pointer)
                    try await client.send(chunk.bytes)
                }
            }
            #expect(caught?.kind == .connectionReset || caught?.kind == .brokenPipe, "got \(String(describing: caught))")
            await client.close()
            await listener.close()
        }
    }

    @Test("connecting to a closed port is connectionRefused", arguments: testedEngines)
    func refused(kind: IOEngineKind) async throws {
        try await onLoop(kind) { loop in
            let port = try TCPListener(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop)
            let address = port.localAddress
            await port.close()
            let error = await ioError { _ = try await TCPConnection.connect(to: address, on: loop) }
            #expect(error?.kind == .connectionRefused)
        }
    }
}
