@testable import FlareAuth
import Testing

/// The replay cache at instants the test sets: what it keeps, for how long, and what it
/// refuses when full.
@Suite("Nonce cache")
struct NonceCacheTests {
    func nonce(_ n: UInt64) -> RequestNonce { RequestNonce(high: 7, low: n) }

    @Test("a nonce is a replay only at the time it was signed with, and only while that time is in the window")
    func replayWithinWindow() {
        var cache = NonceCache(countMax: 100, windowSeconds: 10)
        #expect(cache.admit(nonce(1), time: 1000, now: 1000) == .fresh)
        #expect(cache.admit(nonce(1), time: 1000, now: 1005) == .replayed)
        // The same nonce signed at another second is another request (its signature differs).
        #expect(cache.admit(nonce(1), time: 1001, now: 1005) == .fresh)
        #expect(cache.count == 2)
        // Past the window the verifier refuses time 1000 as stale before asking; the cache has let it go.
        _ = cache.admit(nonce(2), time: 1011, now: 1011)
        #expect(cache.count == 2, "time 1000 left the window at 1011; 1001 and 1011 remain")
        _ = cache.admit(nonce(3), time: 1012, now: 1012)
        #expect(cache.count == 2)
    }

    @Test("full: the oldest second is forgotten and requests signed at or before it are refused, newer ones are not")
    func bounded() {
        var cache = NonceCache(countMax: 4, windowSeconds: 300)
        for (index, time) in [100, 100, 101, 102].enumerated() {
            #expect(cache.admit(nonce(UInt64(index)), time: Int64(time), now: 102) == .fresh)
        }
        #expect(cache.admit(nonce(9), time: 103, now: 103) == .fresh)
        #expect(cache.count == 3 && cache.forgottenThrough == 100)
        // A replay of a forgotten nonce is still refused; so is anything new from that second.
        #expect(cache.admit(nonce(0), time: 100, now: 103) == .forgotten)
        #expect(cache.admit(nonce(50), time: 99, now: 103) == .forgotten)
        #expect(cache.admit(nonce(2), time: 101, now: 103) == .replayed)
        #expect(cache.count <= cache.countMax)
    }

    @Test("a flood never grows it past its bound, and never lets a replay through")
    func flood() {
        var cache = NonceCache(countMax: 1000, windowSeconds: 60)
        var accepted: [(RequestNonce, Int64)] = []
        for index in 0..<20_000 {
            let time = Int64(5000 + index / 500)
            if cache.admit(nonce(UInt64(index)), time: time, now: time) == .fresh { accepted.append((nonce(UInt64(index)), time)) }
            #expect(cache.count <= 1000)
        }
        let now: Int64 = 5000 + 20_000 / 500
        for (nonce, time) in accepted where now - time <= 60 {
            #expect(cache.admit(nonce, time: time, now: now) != .fresh)
        }
    }
}
