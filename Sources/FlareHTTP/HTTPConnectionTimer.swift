/// The timing decisions of a connection waiting for a message, apart from its I/O: how long
/// the next receive may wait, and what a wait that ran out means. Generic over the clock, so
/// tests drive it with a manual one; connections run it on `ContinuousClock`.
///
/// - Between messages a connection is *idle*: the peer owes nothing, may stay silent for the
///   idle timeout, and is then closed without an answer.
/// - From a head's first byte the whole head must arrive by a deadline `headTimeout` later,
///   however its bytes trickle in: more bytes do not move the deadline, so a client sending
///   a byte at a time is cut off all the same, with 408. The idle time before that first byte
///   does not count against it.
/// - Each wait for a piece of a body gets the whole body timeout: a transfer that keeps
///   moving takes as long as it needs, one that stalls gets 408.
/// - A client that has sent a request is owed its response: silence is a timeout, never an
///   idle close, so the client does not mistake a hung peer for a stale connection. The first
///   byte, the rest of the head and each piece of the body each get the request's timeout.
struct HTTPConnectionTimer<C: Clock>: Sendable where C.Duration == Duration {
    enum Phase: Equatable, Sendable {
        /// Waiting for the first byte of a head since `since`; `idleTimeout` nil waits forever.
        case idle(since: C.Instant, idleTimeout: Duration?, headTimeout: Duration)
        /// A head's first byte came at `started`; all of it must be in by `deadline`.
        case head(started: C.Instant, deadline: C.Instant)
        /// The head that came at `started` is complete: its body (if any) is being read.
        case body(started: C.Instant)
        /// A request was sent at `since` and no byte of its response has come.
        case response(since: C.Instant, timeout: Duration)
    }

    /// What a wait that ran out means.
    enum Expiry: Equatable, Sendable {
        /// Nothing was owed: close the connection without an answer.
        case idle
        /// The head was too slow.
        case head
        /// The body stalled.
        case body
        /// The peer owes a response and sent no byte of it in time.
        case response

        /// The status to answer with before closing; none for an idle connection.
        var status: Int? { self == .idle ? nil : 408 }
    }

    /// What to do next.
    enum Wait: Equatable, Sendable {
        /// Receive, waiting at most `timeout` (nil: without limit).
        case receive(timeout: Duration?)
        /// The time is already up.
        case expired(Expiry)
    }

    let clock: C
    /// Set at start for a server's connection; per request on a client's (``awaitResponse(timeout:)``).
    private(set) var bodyTimeout: Duration
    private(set) var phase: Phase

    init(clock: C, bodyTimeout: Duration) {
        self.clock = clock
        self.bodyTimeout = bodyTimeout
        phase = .idle(since: clock.now, idleTimeout: nil, headTimeout: bodyTimeout)
    }

    /// The connection begins waiting for its next head, now.
    mutating func awaitHead(idleTimeout: Duration?, headTimeout: Duration) {
        phase = .idle(since: clock.now, idleTimeout: idleTimeout, headTimeout: headTimeout)
    }

    /// A client sent a request, now: its response is owed within `timeout` — the first byte,
    /// the whole head from that byte on, and each piece of the body.
    mutating func awaitResponse(timeout: Duration) {
        phase = .response(since: clock.now, timeout: timeout)
        bodyTimeout = timeout
    }

    /// Bytes of the awaited head have arrived: the first ones start its deadline, later ones
    /// change nothing.
    mutating func headBytesArrived() {
        let headTimeout: Duration
        switch phase {
        case .idle(_, _, let timeout), .response(_, let timeout): headTimeout = timeout
        case .head, .body: return
        }
        let now = clock.now
        phase = .head(started: now, deadline: now.advanced(by: headTimeout))
    }

    /// The head is parsed: from now on waits are for its body.
    mutating func headComplete() {
        phase = .body(started: requestStartedAt)
    }

    /// Whether no byte of the awaited head has come yet, on a connection that owes nothing.
    var isIdle: Bool {
        if case .idle = phase { return true }
        return false
    }

    /// Whether a response is owed and not a byte of it has come: a failure now proves nothing
    /// was answered.
    var awaitsFirstResponseByte: Bool {
        if case .response = phase { return true }
        return false
    }

    /// Where the current request's time starts: its head's first byte, or while none has
    /// come, when the wait began (a kept-alive connection's silence is not the request's).
    var requestStartedAt: C.Instant {
        switch phase {
        case .idle(let since, _, _), .response(let since, _): return since
        case .head(let started, _), .body(let started): return started
        }
    }

    /// What a receive that timed out in this phase means.
    var expiry: Expiry {
        switch phase {
        case .idle: return .idle
        case .head: return .head
        case .body: return .body
        case .response: return .response
        }
    }

    /// How long the next receive may wait, or that the time is already up.
    func nextWait() -> Wait {
        switch phase {
        case .idle(let since, let idleTimeout, _):
            guard let idleTimeout else { return .receive(timeout: nil) }
            let left = idleTimeout - since.duration(to: clock.now)
            return left > .zero ? .receive(timeout: left) : .expired(.idle)
        case .head(_, let deadline):
            let left = clock.now.duration(to: deadline)
            return left > .zero ? .receive(timeout: left) : .expired(.head)
        case .body:
            return .receive(timeout: bodyTimeout)
        case .response(let since, let timeout):
            let left = timeout - since.duration(to: clock.now)
            return left > .zero ? .receive(timeout: left) : .expired(.response)
        }
    }
}
