import FlareCore
import FlareTestSupport
import Testing

@Suite("Rate limiter: a token bucket of bytes per second, driven by a manual clock")
struct RateLimiterTests {
    typealias Limiter = RateLimiter<ManualClock.Instant>
    static let mebibyte = 1 << 20

    func at(_ seconds: Double) -> ManualClock.Instant { ManualClock.Instant(offset: .seconds(seconds)) }

    @Test("0 bytes per second is unlimited: every request goes at once")
    func unlimited() {
        var limiter = Limiter(bytesPerSecond: 0, burstBytes: 1)
        #expect(limiter.isUnlimited)
        for step in 0..<100 {
            #expect(limiter.delay(for: 1 << 30, at: at(Double(step) * 1e-6)) == .zero)
        }
    }

    @Test("the bucket starts full: one burst goes at once, the next byte waits for its share")
    func burstThenWait() {
        var limiter = Limiter(bytesPerSecond: Self.mebibyte, burstBytes: 4 * Self.mebibyte)
        #expect(limiter.delay(for: 4 * Self.mebibyte, at: at(0)) == .zero)
        #expect(limiter.delay(for: Self.mebibyte, at: at(0)) == .seconds(1))
        // Reserved: a second request queues behind the first, which is still being paid for.
        #expect(limiter.delay(for: Self.mebibyte / 2, at: at(0)) == .milliseconds(1500))
    }

    @Test("a steady stream of blocks is paced at the rate, whatever the block size", arguments: [4096, 1 << 20, 4 << 20])
    func steadyRate(blockBytes: Int) {
        let rate = 16 * Self.mebibyte
        var limiter = Limiter(bytesPerSecond: rate, burstBytes: blockBytes)
        var now = 0.0
        let total = 64 * Self.mebibyte
        for _ in 0..<(total / blockBytes) {
            now += limiter.delay(for: blockBytes, at: at(now)).secondsValue
        }
        // The first block is the burst; the rest take their time at the rate.
        let expected = Double(total - blockBytes) / Double(rate)
        #expect(abs(now - expected) < 1e-6 * Double(total / blockBytes), "64 MiB in \(blockBytes) B blocks took \(now) s, not \(expected)")
    }

    @Test("waiting after a transfer for its delay keeps the same average as waiting before")
    func payAfter() {
        var limiter = Limiter(bytesPerSecond: 1000, burstBytes: 1000)
        var now = 0.0
        for _ in 0..<10 {
            // The transfer itself takes a while; the wait comes after it.
            now += 0.1
            now += limiter.delay(for: 1000, at: at(now)).secondsValue
        }
        #expect(abs(now - 9.1) < 1e-6, "10 × 1000 B at 1000 B/s ended at \(now) s")
    }

    @Test("an idle spell refills the bucket up to the burst, never more")
    func refillCapped() {
        var limiter = Limiter(bytesPerSecond: 1000, burstBytes: 2000)
        #expect(limiter.delay(for: 2000, at: at(0)) == .zero)
        #expect(limiter.available(at: at(1)) == 1000)
        #expect(limiter.available(at: at(3600)) == 2000)
        #expect(limiter.delay(for: 2000, at: at(3600)) == .zero)
        #expect(limiter.delay(for: 1, at: at(3600)) == .milliseconds(1))
    }

    @Test("a request larger than the burst is allowed and waits for the excess")
    func largerThanBurst() {
        var limiter = Limiter(bytesPerSecond: 1000, burstBytes: 100)
        #expect(limiter.delay(for: 5100, at: at(0)) == .seconds(5))
        #expect(limiter.available(at: at(5)) == 0)
    }

    @Test("time that goes back counts as no time passed")
    func clockBack() {
        var limiter = Limiter(bytesPerSecond: 1000, burstBytes: 1000)
        #expect(limiter.delay(for: 1000, at: at(10)) == .zero)
        #expect(limiter.delay(for: 500, at: at(5)) == .milliseconds(500))
        #expect(limiter.available(at: at(10)) == -500)
        #expect(limiter.available(at: at(11)) == 500)
    }

    @Test("delays round up to whole nanoseconds: a caller that waits them is never early")
    func roundsUp() {
        var limiter = Limiter(bytesPerSecond: 3, burstBytes: 1)
        #expect(limiter.delay(for: 1, at: at(0)) == .zero)
        let delay = limiter.delay(for: 1, at: at(0))
        #expect(delay == .nanoseconds(333_333_334), "\(delay)")
    }
}
