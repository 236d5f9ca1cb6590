@testable import FlareHTTP
import FlareTestSupport
import Testing

/// The client pool's reuse rule, on a clock the test moves.
@Suite("HTTP client: idle connection reuse")
struct IdleConnectionsTests {
    @Test("the most recently parked connection is reused while idle for less than the timeout, then closed")
    func reuseAndExpiry() {
        let clock = ManualClock()
        var idle = IdleConnections<String, ManualClock>(clock: clock, countMax: 8)
        let parkedA = idle.park("a")
        clock.advance(by: .seconds(5))
        let parkedB = idle.park("b")
        #expect(parkedA && parkedB)
        clock.advance(by: .seconds(14))
        // a: idle 19 s, b: 14 s.
        let first = idle.take(idleTimeout: .seconds(20))
        #expect(first.reusable == "b" && first.expired.isEmpty)
        clock.advance(by: .seconds(1))
        // a: idle exactly 20 s: expired (the server may be closing it right now).
        let second = idle.take(idleTimeout: .seconds(20))
        #expect(second.reusable == nil && second.expired == ["a"])
        #expect(idle.count == 0)
    }

    @Test("expired connections are handed out for closing until a fresh one is found; older ones stay")
    func expiredOnTheWay() {
        let clock = ManualClock()
        var idle = IdleConnections<Int, ManualClock>(clock: clock, countMax: 8)
        var parked: [Bool] = []
        for connection in 0..<4 {
            parked.append(idle.park(connection))
            clock.advance(by: .seconds(10))
        }
        // Idle for 40, 30, 20 and 10 s; parked now: 4, idle 0 s.
        parked.append(idle.park(4))
        #expect(parked.allSatisfy { $0 })
        let taken = idle.take(idleTimeout: .seconds(25))
        #expect(taken.reusable == 4 && taken.expired.isEmpty)
        let next = idle.take(idleTimeout: .seconds(25))
        #expect(next.reusable == 3 && next.expired.isEmpty)
        let rest = idle.take(idleTimeout: .seconds(15))
        #expect(rest.reusable == nil && rest.expired == [2, 1, 0])
    }

    @Test("at most countMax are kept; removeAll hands every one back")
    func bounded() {
        var idle = IdleConnections<Int, ManualClock>(clock: ManualClock(), countMax: 2)
        let parked = [idle.park(1), idle.park(2), idle.park(3)]
        #expect(parked == [true, true, false], "a third idle connection was kept")
        let removed = idle.removeAll()
        #expect(removed == [1, 2])
        #expect(idle.count == 0)
    }
}
