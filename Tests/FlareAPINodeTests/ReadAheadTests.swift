@testable import FlareAPINode
import FlareIO
import Testing

@Suite("ReadAhead: a GET holds as many chunks as its client takes")
struct ReadAheadTests {
    @Test("starts at two, doubles to the window while the client keeps up, drops to one when it does not, and recovers")
    func adapts() {
        var ahead = ReadAhead(windowMax: 8)
        #expect(ahead.limit == 2)
        ahead.fetched(seconds: 0.010)
        for expected in [4, 8, 8] {
            ahead.sent(seconds: 0.002)
            #expect(ahead.limit == expected)
        }
        ahead.sent(seconds: 0.5)  // the client stalls
        #expect(ahead.limit == 1)
        ahead.sent(seconds: 0.5)
        #expect(ahead.limit == 1)
        ahead.sent(seconds: 0.001)
        #expect(ahead.limit == 2)
    }

    @Test("the fetch time is a moving average; a window of one stays one")
    func averageAndSmallWindow() {
        var ahead = ReadAhead(windowMax: 1)
        #expect(ahead.limit == 1)
        ahead.fetched(seconds: 0.1)
        ahead.sent(seconds: 0.01)
        #expect(ahead.limit == 1)
        var average = ReadAhead(windowMax: 4)
        average.fetched(seconds: 0.1)
        average.fetched(seconds: 0.5)
        #expect(abs(average.fetchSeconds! - 0.2) < 1e-9)
        average.sent(seconds: 0.15)
        #expect(average.limit == 4)
        average.sent(seconds: 0.25)
        #expect(average.limit == 1)
    }

    @Test("a pool keeps its reserve from those who ask with one")
    func poolReserve() async throws {
        let loop = try EventLoop.start(engine: .epoll, name: "reserve")
        defer { loop.shutdown() }
        try await loop.run {
            let pool = BufferPool(bufferBytes: 4096, bufferCount: 4, loop: loop)
            let a = pool.tryAcquire(keeping: 2), b = pool.tryAcquire(keeping: 2)
            #expect(a != nil && b != nil)
            #expect(pool.tryAcquire(keeping: 2) == nil, "the reserve was handed out")
            let c = pool.tryAcquire(), d = pool.tryAcquire()
            #expect(c != nil && d != nil && pool.tryAcquire() == nil)
            _ = (a, b, c, d)
        }
    }
}
