/// What one client address may hold of a server: open connections, requests being served,
/// and how fast it may open connections (a token bucket). A pure state machine: the caller
/// passes the time, and keeps one of these per server behind a lock (connections from one
/// address land on every loop).
///
/// Zero for a limit turns it off. An address is forgotten once it holds nothing and its bucket
/// has filled again, so the table stays as large as the set of recent clients.
public struct ClientLimiter: Sendable {
    public struct Limits: Sendable, Equatable {
        /// Open connections per client address → 429 and closed (0: no limit).
        public var connectionsMax: Int
        /// Requests being served at once per client address → 429 (0: no limit).
        public var requestsInFlightMax: Int
        /// Connections a client address may open per second, with a burst of twice that → 429
        /// and closed (0: no limit).
        public var connectionsPerSecond: Int

        public init(connectionsMax: Int = 0, requestsInFlightMax: Int = 0, connectionsPerSecond: Int = 0) {
            precondition(connectionsMax >= 0 && requestsInFlightMax >= 0 && connectionsPerSecond >= 0)
            self.connectionsMax = connectionsMax
            self.requestsInFlightMax = requestsInFlightMax
            self.connectionsPerSecond = connectionsPerSecond
        }

        public static let off = Limits()
        public var isOff: Bool { self == .off }
    }

    /// Why a connection or request was refused: the reason label of `*_refused_total`.
    public enum Refusal: String, Sendable, Equatable {
        case clientConnections = "client_connections"
        case clientConnectionRate = "client_connection_rate"
        case clientRequests = "client_requests"
    }

    private struct Client {
        var connections = 0
        var requests = 0
        var tokens: Double
        var refilled: ContinuousClock.Instant
    }

    public let limits: Limits
    private var clients: [String: Client] = [:]
    private var admissionsSincePrune = 0

    public init(limits: Limits) {
        self.limits = limits
    }

    /// Addresses remembered (for tests and the bound).
    public var clientCount: Int { clients.count }

    private var burst: Double { Double(2 * limits.connectionsPerSecond) }

    /// A new connection from `client`; on `nil` it is counted until ``connectionClosed(_:)``.
    public mutating func admitConnection(_ client: String, at now: ContinuousClock.Instant) -> Refusal? {
        admissionsSincePrune += 1
        if admissionsSincePrune >= 1024 { prune(at: now) }
        var entry = clients[client] ?? Client(tokens: burst, refilled: now)
        defer { clients[client] = entry }
        if limits.connectionsPerSecond > 0 {
            refill(&entry, at: now)
            guard entry.tokens >= 1 else { return .clientConnectionRate }
            entry.tokens -= 1
        }
        if limits.connectionsMax > 0 && entry.connections >= limits.connectionsMax { return .clientConnections }
        entry.connections += 1
        return nil
    }

    public mutating func connectionClosed(_ client: String) {
        guard var entry = clients[client] else { return }
        precondition(entry.connections > 0, "a connection closed that was never admitted")
        entry.connections -= 1
        clients[client] = entry
    }

    /// A request from `client` begins; on `nil` it is counted until ``requestEnded(_:)``.
    public mutating func beginRequest(_ client: String) -> Refusal? {
        guard var entry = clients[client] else { return nil }
        if limits.requestsInFlightMax > 0 && entry.requests >= limits.requestsInFlightMax { return .clientRequests }
        entry.requests += 1
        clients[client] = entry
        return nil
    }

    public mutating func requestEnded(_ client: String) {
        guard var entry = clients[client] else { return }
        precondition(entry.requests > 0, "a request ended that never began")
        entry.requests -= 1
        clients[client] = entry
    }

    private func refill(_ entry: inout Client, at now: ContinuousClock.Instant) {
        let elapsed = now - entry.refilled
        guard elapsed > .zero else { return }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        entry.tokens = min(burst, entry.tokens + seconds * Double(limits.connectionsPerSecond))
        entry.refilled = now
    }

    /// Forgets addresses that hold nothing and whose bucket is full again.
    private mutating func prune(at now: ContinuousClock.Instant) {
        admissionsSincePrune = 0
        clients = clients.filter { _, client in
            guard client.connections == 0 && client.requests == 0 else { return true }
            var refilled = client
            refill(&refilled, at: now)
            return limits.connectionsPerSecond > 0 && refilled.tokens < burst
        }
    }
}
