import FlareCluster
import FlareTestSupport
import Testing

/// The health state machine at exact instants of a manual clock: no sleeps.
@Suite("NodeHealth")
struct NodeHealthTests {
    typealias Health = NodeHealth<ManualClock.Instant>
    static let timeout = NodeFailure(.timeout, "no answer in 2 s")
    static let refused = NodeFailure(.connection, "connection refused")

    /// A machine with downAfter 5 s that has been failing probes since t=0, one a second.
    static func failingProbes(until seconds: Int, clock: ManualClock) -> Health {
        var health = Health(at: clock.now, policy: NodeHealthPolicy(downAfterSeconds: 5))
        health.record(.probeFailed(refused), at: clock.now)
        for _ in 0..<seconds {
            clock.advance(by: .seconds(1))
            health.record(.probeFailed(refused), at: clock.now)
        }
        return health
    }

    @Test("a data-path timeout makes an up node suspect at once, with the failure kept")
    func dataPathFailureSuspectsAtOnce() {
        let clock = ManualClock()
        var health = Health(at: clock.now)
        #expect(health.state == .up)
        clock.advance(by: .milliseconds(1_500))
        let transition = health.record(.dataPathFailed(Self.timeout), at: clock.now)
        #expect(transition == NodeHealthTransition(from: .up, to: .suspect, failure: Self.timeout))
        #expect(health.state == .suspect && health.since == clock.now && health.failingSince == clock.now)
        #expect(health.lastFailure?.kind == .timeout && health.lastFailureAt == clock.now)
        #expect(health.dataPathFailureCount == 1 && health.probeFailureCount == 0)
    }

    @Test("a failed probe suspects; failing for exactly downAfter makes it down, a nanosecond less does not")
    func downAfterExactly() {
        let clock = ManualClock()
        var health = Self.failingProbes(until: 4, clock: clock)
        #expect(health.state == .suspect && health.since == ManualClock.Instant(offset: .zero))
        clock.advance(by: .seconds(1) - .nanoseconds(1))
        #expect(health.record(.probeFailed(Self.refused), at: clock.now) == nil)
        #expect(health.state == .suspect)
        clock.advance(by: .nanoseconds(1))
        #expect(health.record(.dataPathFailed(Self.timeout), at: clock.now)?.to == .down)
        #expect(health.state == .down && health.since == ManualClock.Instant(offset: .seconds(5)))
        clock.advance(by: .seconds(1))
        #expect(health.record(.probeFailed(Self.refused), at: clock.now) == nil, "down stays down while failing")
        #expect(health.probeFailureCount == 7 && health.dataPathFailureCount == 1)
    }

    @Test("a successful probe brings a suspect or down node up and clears the failing clock")
    func probeRecovers() {
        for failingSeconds in [2, 7] {
            let clock = ManualClock()
            var health = Self.failingProbes(until: failingSeconds, clock: clock)
            let before = health.state
            #expect(before == (failingSeconds >= 5 ? .down : .suspect))
            clock.advance(by: .milliseconds(250))
            #expect(health.record(.probeSucceeded, at: clock.now) == NodeHealthTransition(from: before, to: .up, failure: nil))
            #expect(health.state == .up && health.failingSince == nil && health.since == clock.now)
            #expect(health.lastFailure == Self.refused, "the last failure is kept for /health")
            // A new failure starts a new clock: one failure after recovery is only suspect.
            clock.advance(by: .seconds(10))
            #expect(health.record(.probeFailed(Self.refused), at: clock.now)?.to == .suspect)
        }
    }

    @Test("a data-path success does not promote, but restarts the failing clock and lifts down to suspect")
    func dataPathSuccess() {
        let clock = ManualClock()
        var health = Health(at: clock.now, policy: NodeHealthPolicy(downAfterSeconds: 5))
        #expect(health.record(.dataPathSucceeded, at: clock.now) == nil, "up stays up")
        health.record(.dataPathFailed(Self.refused), at: clock.now)
        clock.advance(by: .seconds(3))
        #expect(health.record(.dataPathSucceeded, at: clock.now) == nil)
        #expect(health.state == .suspect && health.failingSince == clock.now)
        clock.advance(by: .seconds(4))
        health.record(.probeFailed(Self.timeout), at: clock.now)
        #expect(health.state == .suspect, "7 s since the first failure, but only 4 s since a sign of life")
        clock.advance(by: .seconds(1))
        health.record(.probeFailed(Self.timeout), at: clock.now)
        #expect(health.state == .down)
        clock.advance(by: .seconds(1))
        #expect(health.record(.dataPathSucceeded, at: clock.now) == NodeHealthTransition(from: .down, to: .suspect, failure: nil))
        #expect(health.failingSince == clock.now)
    }

    @Test("an instant older than the last one counts as the last one")
    func olderInstantClamped() {
        let clock = ManualClock()
        var health = Health(at: clock.now, policy: NodeHealthPolicy(downAfterSeconds: 5))
        let early = clock.now
        clock.advance(by: .seconds(2))
        health.record(.probeFailed(Self.refused), at: clock.now)
        health.record(.dataPathFailed(Self.timeout), at: early)
        #expect(health.failingSince == clock.now && health.lastFailureAt == clock.now)
    }

    @Test("failure messages are cut to messageBytesMax at a character boundary")
    func messageBounded() {
        let message = String(repeating: "é", count: NodeFailure.messageBytesMax)
        let failure = NodeFailure(.response, message)
        #expect(failure.message.utf8.count == NodeFailure.messageBytesMax)
        #expect(message.hasPrefix(failure.message))
        #expect(NodeFailure(.response, "short").message == "short")
    }
}
