import FlareIO
import FlareTestSupport
import Testing

@Suite("Buffer pool: the line of waiters is bounded")
struct BufferPoolWaitersTests {
    @Test("past waitersMax, acquire refuses at once; the line drains and takes new waiters again",
          arguments: testedEngines)
    func boundedLine(kind: IOEngineKind) async throws {
        try await onLoop(kind) { loop in
            let pool = BufferPool(bufferBytes: 4096, bufferCount: 1, loop: loop, waitersMax: 2)
            var held: IOBuffer? = try await pool.acquire()
            let first = loop.spawn { Int(bitPattern: try await pool.acquire().base) }
            let second = loop.spawn { Int(bitPattern: try await pool.acquire().base) }
            try await settle(loop) { pool.waiting == 2 }
            #expect(pool.waiting == 2)
            let third = loop.spawn { Int(bitPattern: try await pool.acquire().base) }
            try await settle(loop, millisecondsMax: 50) { pool.waiting > 2 }
            #expect(pool.waiting == 2, "the refused caller did not join the line")
            // Only now the buffer comes back: were the third caller waiting, it would get its
            // turn too instead of hanging the test.
            held = nil
            _ = try await first.value
            _ = try await second.value
            do {
                _ = try await third.value
                Issue.record("a third waiter was let in")
            } catch let error as BufferPoolBusy {
                #expect(error.waitersMax == 2 && error.bufferCount == 1)
                #expect("\(error)".contains("2 requests already waiting"))
            }
            #expect(pool.waiting == 0 && pool.inUse == 0)
            let again = loop.spawn { Int(bitPattern: try await pool.acquire().base) }
            _ = try await again.value
            _ = held
        }
    }

    @Test("with waitersMax 0 a free buffer is still handed out, and an empty pool refuses", arguments: testedEngines)
    func noLine(kind: IOEngineKind) async throws {
        try await onLoop(kind) { loop in
            let pool = BufferPool(bufferBytes: 4096, bufferCount: 1, loop: loop, waitersMax: 0)
            var held: IOBuffer? = try await pool.acquire()
            let refused = loop.spawn { Int(bitPattern: try await pool.acquire().base) }
            try await settle(loop, millisecondsMax: 50) { pool.waiting > 0 }
            held = nil
            await #expect(throws: BufferPoolBusy.self) { try await refused.value }
            _ = held
        }
    }

    /// Lets spawned tasks run on the loop until `done` holds, for about `millisecondsMax` at
    /// most (the assertions after it tell what happened). A spawned task runs within a tick
    /// or two; the short limits are for what must *not* happen.
    private func settle(_ loop: EventLoop, millisecondsMax: Int = 1000, until done: () -> Bool) async throws {
        for _ in 0..<millisecondsMax where !done() { try await loop.sleep(for: .milliseconds(1)) }
    }
}
