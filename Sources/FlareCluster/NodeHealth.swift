/// What the api learnt about a node: a probe's or a request's outcome.
public enum NodeHealthEvent: Sendable, Hashable {
    /// `GET /health` answered 200.
    case probeSucceeded
    /// `GET /health` timed out, could not connect, or answered unhealthily.
    case probeFailed(NodeFailure)
    /// A chunk request got an answer (any answer: a 404 or 507 is the chunk's problem, not
    /// the node's health).
    case dataPathSucceeded
    /// A chunk request timed out or its connection failed. Report only those kinds here.
    case dataPathFailed(NodeFailure)
}

/// The settings of the health state machine.
public struct NodeHealthPolicy: Sendable, Hashable {
    /// How long a node may fail without any sign of life before it is `down`.
    public let downAfterSeconds: Double

    public init(downAfterSeconds: Double = 5) {
        precondition(downAfterSeconds >= 0, "downAfterSeconds must not be negative")
        self.downAfterSeconds = downAfterSeconds
    }

    var downAfter: Duration { .seconds(downAfterSeconds) }
}

/// A change of state, for the log line that says why.
public struct NodeHealthTransition: Sendable, Hashable {
    public let from: NodeState
    public let to: NodeState
    /// The failure that caused it, nil for a recovery.
    public let failure: NodeFailure?

    public init(from: NodeState, to: NodeState, failure: NodeFailure?) {
        self.from = from
        self.to = to
        self.failure = failure
    }
}

/// The health of one node: a pure state machine over the instants it is told about.
///
/// - Any failure (a failed probe, a data-path timeout or connection failure) makes an `up`
///   node `suspect` at once, so the rest of an object's chunks go elsewhere without waiting
///   on it again.
/// - A node that has been failing for `downAfterSeconds`, with no success of any kind in
///   between, becomes `down` at the next failure. Failures are what move it: the prober
///   reports one about once a second, so no timer is needed here.
/// - A successful probe makes it `up`. A successful request does not (only the prober
///   promotes, so a node that times out on every other request does not flap back into
///   placement), but it is a sign of life: it restarts the failing clock, and brings a `down`
///   node back to `suspect`.
///
/// Generic over the clock's instant so tests drive it with a manual clock. Instants are
/// expected in order; one older than the last seen (two loops reporting at once) counts as
/// the last seen, so time never runs backwards inside the machine.
public struct NodeHealth<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public let policy: NodeHealthPolicy
    /// The current state.
    public private(set) var state: NodeState = .up
    /// When the current state was entered.
    public private(set) var since: Instant
    /// When the node started failing without a sign of life since; nil while `up`.
    public private(set) var failingSince: Instant?
    /// The latest failure, kept after recovery for `/health` (nil if it never failed).
    public private(set) var lastFailure: NodeFailure?
    /// When `lastFailure` happened.
    public private(set) var lastFailureAt: Instant?
    /// Data-path failures reported since the machine was made (saturating).
    public private(set) var dataPathFailureCount: UInt64 = 0
    /// Failed probes since the machine was made (saturating).
    public private(set) var probeFailureCount: UInt64 = 0
    private var latest: Instant

    /// A node that starts `up`: until a probe says otherwise, it is given the benefit of the
    /// doubt, or a starting api would place nothing for its first second.
    public init(at now: Instant, policy: NodeHealthPolicy = NodeHealthPolicy()) {
        self.policy = policy
        since = now
        latest = now
    }

    /// Feeds one outcome; returns the transition if the state changed.
    @discardableResult
    public mutating func record(_ event: NodeHealthEvent, at reported: Instant) -> NodeHealthTransition? {
        let now = max(reported, latest)
        latest = now
        switch event {
        case .probeSucceeded:
            failingSince = nil
            return enter(.up, at: now, failure: nil)
        case .dataPathSucceeded:
            guard state != .up else { return nil }
            failingSince = now
            return enter(.suspect, at: now, failure: nil)
        case .probeFailed(let failure):
            probeFailureCount = probeFailureCount == .max ? .max : probeFailureCount + 1
            return failed(failure, at: now)
        case .dataPathFailed(let failure):
            dataPathFailureCount = dataPathFailureCount == .max ? .max : dataPathFailureCount + 1
            return failed(failure, at: now)
        }
    }

    private mutating func failed(_ failure: NodeFailure, at now: Instant) -> NodeHealthTransition? {
        lastFailure = failure
        lastFailureAt = now
        guard let start = failingSince else {
            failingSince = now
            return enter(.suspect, at: now, failure: failure)
        }
        return enter(start.duration(to: now) >= policy.downAfter ? .down : .suspect, at: now, failure: failure)
    }

    private mutating func enter(_ next: NodeState, at now: Instant, failure: NodeFailure?) -> NodeHealthTransition? {
        guard next != state else { return nil }
        let transition = NodeHealthTransition(from: state, to: next, failure: failure)
        state = next
        since = now
        return transition
    }
}
