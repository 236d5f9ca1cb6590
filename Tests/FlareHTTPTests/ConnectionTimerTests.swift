@testable import FlareHTTP
import FlareTestSupport
import Testing

/// The idle, head and body timeouts of a connection, decided by ``HTTPConnectionTimer`` on a
/// clock the test moves: exact instants, no sleeping.
@Suite("HTTP connection timer")
struct ConnectionTimerTests {
    typealias Timer = HTTPConnectionTimer<ManualClock>

    static func waiting(idle: Duration? = .seconds(60), head: Duration = .seconds(10)) -> (Timer, ManualClock) {
        let clock = ManualClock()
        var timer = Timer(clock: clock, bodyTimeout: .seconds(30))
        timer.awaitHead(idleTimeout: idle, headTimeout: head)
        return (timer, clock)
    }

    @Test("an idle connection waits exactly the idle timeout, then is closed without an answer")
    func idleTimeout() {
        let (timer, clock) = Self.waiting()
        #expect(timer.nextWait() == .receive(timeout: .seconds(60)))
        #expect(timer.expiry == .idle && timer.expiry.status == nil, "a silent kept-alive connection owes no answer")
        clock.advance(by: .seconds(60) - .nanoseconds(1))
        #expect(timer.nextWait() == .receive(timeout: .nanoseconds(1)))
        clock.advance(by: .nanoseconds(1))
        #expect(timer.nextWait() == .expired(.idle))
    }

    @Test("without an idle timeout a connection waits for its head as long as it takes")
    func noIdleTimeout() {
        let (timer, clock) = Self.waiting(idle: nil)
        clock.advance(by: .seconds(86_400))
        #expect(timer.nextWait() == .receive(timeout: nil))
    }

    @Test("a head's deadline runs from its first byte, not from the idle wait, and later bytes do not move it")
    func headDeadline() {
        var (timer, clock) = Self.waiting()
        clock.advance(by: .seconds(50))
        let firstByte = clock.now
        timer.headBytesArrived()
        #expect(timer.nextWait() == .receive(timeout: .seconds(10)), "the 50 idle seconds count against the head")
        #expect(timer.requestStartedAt == firstByte)
        clock.advance(by: .seconds(4))
        timer.headBytesArrived()
        #expect(timer.nextWait() == .receive(timeout: .seconds(6)), "a trickle of bytes re-armed the head deadline")
        #expect(timer.expiry == .head && timer.expiry.status == 408)
        clock.advance(by: .seconds(6))
        #expect(timer.nextWait() == .expired(.head))
        #expect(timer.requestStartedAt == firstByte)
    }

    @Test("a slow-loris head, a byte every 9 s, is cut off 10 s after its first byte with 408")
    func slowLoris() {
        var (timer, clock) = Self.waiting()
        timer.headBytesArrived()
        var waits: [Timer.Wait] = []
        for _ in 0..<3 {
            let wait = timer.nextWait()
            waits.append(wait)
            guard case .receive = wait else { break }
            clock.advance(by: .seconds(9))
            timer.headBytesArrived()
        }
        #expect(waits == [.receive(timeout: .seconds(10)), .receive(timeout: .seconds(1)), .expired(.head)])
        #expect(timer.expiry.status == 408)
    }

    @Test("every body wait gets the whole body timeout, however long the head and earlier pieces took")
    func bodyTimeout() {
        var (timer, clock) = Self.waiting()
        clock.advance(by: .seconds(1))
        timer.headBytesArrived()
        clock.advance(by: .seconds(9) + .milliseconds(999))
        timer.headComplete()
        #expect(timer.nextWait() == .receive(timeout: .seconds(30)), "the head's deadline applied to the body")
        #expect(timer.expiry == .body && timer.expiry.status == 408)
        clock.advance(by: .seconds(29))
        #expect(timer.nextWait() == .receive(timeout: .seconds(30)), "a moving body ran out of time")
        #expect(timer.requestStartedAt == ManualClock.Instant(offset: .seconds(1)), "the request starts at its head's first byte")
    }

    @Test("the next head's wait starts when the connection begins waiting, with the whole idle timeout")
    func nextRequest() {
        var (timer, clock) = Self.waiting()
        timer.headBytesArrived()
        timer.headComplete()
        clock.advance(by: .seconds(100))
        timer.awaitHead(idleTimeout: .seconds(60), headTimeout: .seconds(10))
        #expect(timer.isIdle)
        #expect(timer.requestStartedAt == clock.now, "a failure before any byte counts from the wait, not an old head")
        clock.advance(by: .seconds(30))
        #expect(timer.nextWait() == .receive(timeout: .seconds(30)))
    }

    @Test("the manual clock wakes a sleeper when an advance reaches its deadline, not before")
    func manualClockSleep() async throws {
        let clock = ManualClock()
        let deadline = clock.now.advanced(by: .seconds(5))
        let sleeper = Task { try await clock.sleep(until: deadline, tolerance: nil) }
        // The sleeper may not have registered yet: advancing short of the deadline must not wake it either way.
        clock.advance(by: .seconds(4))
        try await Task.sleep(for: .milliseconds(10))
        clock.advance(by: .seconds(1))
        try await sleeper.value
        #expect(clock.now == ManualClock.Instant(offset: .seconds(5)))
    }
}

/// The client's side: a request sent is owed its response, so the same timer never takes a
/// hung peer's silence for an idle connection.
@Suite("HTTP connection timer: awaiting a response")
struct ResponseTimerTests {
    typealias Timer = HTTPConnectionTimer<ManualClock>

    @Test("silence after a request is a timeout, after exactly the request's timeout, never an idle close")
    func silenceIsATimeout() {
        let clock = ManualClock()
        var timer = Timer(clock: clock, bodyTimeout: .seconds(30))
        timer.awaitResponse(timeout: .seconds(3))
        #expect(!timer.isIdle && timer.awaitsFirstResponseByte)
        #expect(timer.nextWait() == .receive(timeout: .seconds(3)))
        clock.advance(by: .seconds(2))
        #expect(timer.nextWait() == .receive(timeout: .seconds(1)))
        clock.advance(by: .seconds(1))
        #expect(timer.nextWait() == .expired(.response))
        #expect(timer.expiry.status == 408)
    }

    @Test("the head gets the request's timeout from its first byte, and every body wait gets it too (not the body limit)")
    func headAndBody() {
        let clock = ManualClock()
        var timer = Timer(clock: clock, bodyTimeout: .seconds(30))
        timer.awaitResponse(timeout: .seconds(3))
        clock.advance(by: .seconds(2))
        timer.headBytesArrived()
        #expect(!timer.awaitsFirstResponseByte, "a byte came: a failure now is not a stale connection's")
        #expect(timer.nextWait() == .receive(timeout: .seconds(3)))
        clock.advance(by: .seconds(3))
        #expect(timer.nextWait() == .expired(.head))
        timer.headComplete()
        #expect(timer.nextWait() == .receive(timeout: .seconds(3)))
    }
}
