import FlareHTTP
import Testing

@Suite("Per-client limits, by a clock the test drives")
struct ClientLimiterTests {
    static let t0 = ContinuousClock.now

    @Test("connections per address: the one over the cap is refused, a close makes room, other addresses are not touched")
    func connections() {
        var limiter = ClientLimiter(limits: .init(connectionsMax: 2))
        #expect(limiter.admitConnection("10.0.0.1", at: Self.t0) == nil)
        #expect(limiter.admitConnection("10.0.0.1", at: Self.t0) == nil)
        #expect(limiter.admitConnection("10.0.0.1", at: Self.t0) == .clientConnections)
        #expect(limiter.admitConnection("10.0.0.2", at: Self.t0) == nil)
        limiter.connectionClosed("10.0.0.1")
        #expect(limiter.admitConnection("10.0.0.1", at: Self.t0) == nil)
        #expect(limiter.admitConnection("10.0.0.1", at: Self.t0) == .clientConnections)
    }

    @Test("requests in flight per address")
    func requests() {
        var limiter = ClientLimiter(limits: .init(requestsInFlightMax: 1))
        #expect(limiter.admitConnection("a", at: Self.t0) == nil)
        #expect(limiter.admitConnection("a", at: Self.t0) == nil)
        #expect(limiter.beginRequest("a") == nil)
        #expect(limiter.beginRequest("a") == .clientRequests)
        limiter.requestEnded("a")
        #expect(limiter.beginRequest("a") == nil)
    }

    @Test("connection rate: a burst of twice the rate, then the rate; refused opens cost nothing")
    func rate() {
        var limiter = ClientLimiter(limits: .init(connectionsPerSecond: 10))
        for _ in 0..<20 {
            #expect(limiter.admitConnection("a", at: Self.t0) == nil)
            limiter.connectionClosed("a")
        }
        #expect(limiter.admitConnection("a", at: Self.t0) == .clientConnectionRate)
        #expect(limiter.admitConnection("a", at: Self.t0 + .milliseconds(50)) == .clientConnectionRate, "half a token")
        #expect(limiter.admitConnection("a", at: Self.t0 + .milliseconds(100)) == nil, "one token after 100 ms")
        #expect(limiter.admitConnection("a", at: Self.t0 + .milliseconds(100)) == .clientConnectionRate)
        #expect(limiter.admitConnection("b", at: Self.t0) == nil, "another address has its own bucket")
    }

    @Test("addresses that hold nothing and have a full bucket are forgotten: the table stays as large as the recent clients")
    func bounded() {
        var limiter = ClientLimiter(limits: .init(connectionsMax: 4, connectionsPerSecond: 100))
        #expect(limiter.admitConnection("stays", at: Self.t0) == nil)
        for index in 0..<5000 {
            let address = "10.1.\(index / 256).\(index % 256)"
            #expect(limiter.admitConnection(address, at: Self.t0 + .seconds(index)) == nil)
            limiter.connectionClosed(address)
        }
        #expect(limiter.clientCount < 1100, "\(limiter.clientCount) addresses remembered")
        #expect(limiter.admitConnection("stays", at: Self.t0 + .seconds(6000)) == nil, "an address holding a connection is kept")
    }
}
