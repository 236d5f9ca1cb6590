/// A peer's idle keep-alive connections, and the rule for reusing one: the most recently
/// used first (the likeliest still open), none idle for the idle timeout or longer (servers
/// close idle connections themselves, and a request sent on one being closed fails), at most
/// `countMax` kept. Pure and generic over the clock; ``HTTPClient`` runs it on
/// `ContinuousClock`, tests on a manual one.
struct IdleConnections<Connection, C: Clock> where C.Duration == Duration {
    let clock: C
    let countMax: Int
    /// Oldest first: parked in the order they became idle.
    private var entries: [(connection: Connection, since: C.Instant)] = []

    init(clock: C, countMax: Int) {
        self.clock = clock
        self.countMax = countMax
    }

    var count: Int { entries.count }

    /// Keeps `connection` for reuse from now on; false when `countMax` are kept already (the
    /// caller closes it instead).
    mutating func park(_ connection: Connection) -> Bool {
        guard entries.count < countMax else { return false }
        entries.append((connection, clock.now))
        return true
    }

    /// The most recently parked connection idle for less than `idleTimeout`, if any, and the
    /// ones taken out on the way because they have been idle too long (the caller closes them).
    mutating func take(idleTimeout: Duration) -> (reusable: Connection?, expired: [Connection]) {
        var expired: [Connection] = []
        let now = clock.now
        while let entry = entries.popLast() {
            if entry.since.duration(to: now) < idleTimeout { return (entry.connection, expired) }
            expired.append(entry.connection)
        }
        return (nil, expired)
    }

    /// Takes out every connection (the caller closes them).
    mutating func removeAll() -> [Connection] {
        defer { entries.removeAll() }
        return entries.map(\.connection)
    }
}
