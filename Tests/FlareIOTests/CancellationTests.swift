import FlareIO
import FlareTestSupport
import Glibc
import Testing

@Suite("Timeouts and cancellation")
struct CancellationTests {
    /// A connected pair on one loop.
    static func pair(_ loop: EventLoop) async throws -> (TCPConnection, TCPConnection, TCPListener) {
        let listener = try TCPListener(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop)
        async let accepted = listener.accept()
        let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
        return (client, try await accepted, listener)
    }

    @Test("a receive with a timeout fails with timedOut", arguments: testedEngines)
    func receiveTimeout(kind: IOEngineKind) async throws {
        try await onLoop(kind) { loop in
            let (client, server, listener) = try await Self.pair(loop)
            let buffer = TestBytes(count: 4096)
            let started = ContinuousClock.now
            let error = await ioError { _ = try await client.receive(into: buffer.pointer, timeout: .milliseconds(100)) }
            #expect(error?.kind == .timedOut, "\(String(describing: error))")
            #expect(ContinuousClock.now - started >= .milliseconds(90))
            await client.close(); await server.close(); await listener.close()
        }
    }

    @Test("sleep waits on the loop timer", arguments: testedEngines)
    func sleep(kind: IOEngineKind) async throws {
        try await onLoop(kind) { loop in
            let started = ContinuousClock.now
            try await loop.sleep(for: .milliseconds(50))
            #expect(ContinuousClock.now - started >= .milliseconds(45))
        }
    }

    @Test("cancelled receives all resume, and a cancelled buffer is not written afterwards", arguments: testedEngines)
    func cancelReceives(kind: IOEngineKind) async throws {
        try await onLoop(kind) { loop in
            let (client, server, listener) = try await Self.pair(loop)
            let buffer = TestBytes(count: 4096)
            memset(buffer.pointer.baseAddress!, 0xAB, 4096)
            let waiter = loop.spawn { await ioError { _ = try await client.receive(into: buffer.pointer) } }
            try await loop.sleep(for: .milliseconds(20))
            waiter.cancel()
            let error = try await waiter.value
            #expect(error?.kind == .cancelled, "\(String(describing: error))")
            // The kernel gave the buffer back: data sent now must not land in it.
            let payload = TestBytes(count: 4096, seed: 7)
            try await server.send(payload.bytes)
            try await loop.sleep(for: .milliseconds(20))
            #expect(buffer.pointer.allSatisfy { $0 == 0xAB })
            // The data is still there for the next receive.
            let next = TestBytes(count: 4096)
            try await client.receiveExactly(into: next.pointer)
            #expect(memcmp(next.pointer.baseAddress!, payload.pointer.baseAddress!, 4096) == 0)
            await client.close(); await server.close(); await listener.close()
        }
    }

    /// Polls `loop`'s ``EventLoop/operationsInFlight`` until `done` holds, for at most 10 s;
    /// returns the last count read and whether `done` held.
    static func waitForOperations(on loop: EventLoop, _ done: @Sendable (Int) -> Bool) async throws -> (Int, Bool) {
        var count = 0
        for _ in 0..<1000 {
            count = try await loop.run { loop.operationsInFlight }
            if done(count) { return (count, true) }
            try await Task.sleep(for: .milliseconds(10))
        }
        return (count, false)
    }

    @Test("cancelling 100 parked operations from another thread resumes every one", arguments: testedEngines)
    func cancelMany(kind: IOEngineKind) async throws {
        try skipIfUnavailable(kind)
        let loop = try EventLoop.start(engine: kind)
        defer { loop.shutdown() }
        let (client, server, listener) = try await loop.run { try await Self.pair(loop) }
        let _ = (server, listener)
        let tasks = (0..<100).map { i in
            loop.spawn { () -> Bool in
                if i % 2 == 0 {
                    try? await loop.sleep(for: .seconds(3600))
                    return true
                }
                let buffer = TestBytes(count: 16)
                return await ioError { _ = try await client.receive(into: buffer.pointer) }?.kind == .cancelled
            }
        }
        // Cancelled before they were parked, the tasks would take the already-cancelled path.
        let (parked, allParked) = try await Self.waitForOperations(on: loop) { $0 == 100 }
        #expect(allParked, "\(parked) of 100 operations in flight after 10 s")
        for task in tasks { task.cancel() }
        // Bounded: with cancellation broken the tasks would never resume, and awaiting them would hang.
        let (left, allResumed) = try await Self.waitForOperations(on: loop) { $0 == 0 }
        try #require(allResumed, "\(left) operations still in flight 10 s after their tasks were cancelled")
        var resumed = 0
        for task in tasks where try await task.value { resumed += 1 }
        #expect(resumed == 100)
    }

    @Test("an already-cancelled task's operation completes as cancelled", arguments: testedEngines)
    func preCancelled(kind: IOEngineKind) async throws {
        try await onLoop(kind) { loop in
            let (client, server, listener) = try await Self.pair(loop)
            let task = loop.spawn { () -> IOError.Kind? in
                withUnsafeCurrentTask { $0?.cancel() }
                let buffer = TestBytes(count: 16)
                return await ioError { _ = try await client.receive(into: buffer.pointer) }?.kind
            }
            #expect(try await task.value == .cancelled)
            await client.close(); await server.close(); await listener.close()
        }
    }
}
