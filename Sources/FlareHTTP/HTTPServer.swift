import FlareIO
import Glibc
import Synchronization

/// An HTTP/1.1 server: one listening socket per event loop on the same port
/// (SO_REUSEPORT), each connection served start to end on the loop that accepted it.
public final class HTTPServer: @unchecked Sendable {
    /// Makes an accepted connection secure (the TLS handshake, within the timeout) before a
    /// byte of HTTP is read; what it returns is the stream the requests then come on.
    public typealias Secure = @Sendable (TCPConnection, Duration) async throws(IOError) -> any ByteStream

    /// The address bound (with the real port when 0 was asked for).
    public let localAddress: SocketAddress
    private let listeners: [TCPListener]
    private var acceptTasks: [Task<Void, Error>] = []
    private var registries: [ConnectionRegistry] = []

    /// Binds `address` on every loop and starts accepting.
    /// - Parameter onExchange: called after each exchange (access log, metrics).
    public init(address: SocketAddress, loops: [EventLoop], limits: HTTPLimits = HTTPLimits(),
                onExchange: (@Sendable (HTTPExchangeRecord) -> Void)? = nil,
                secure: Secure? = nil,
                handler: @escaping HTTPHandler) throws(IOError) {
        precondition(!loops.isEmpty)
        var listeners: [TCPListener] = []
        var bound = address
        if loops.count > 1 && address.port != 0 {
            // SO_REUSEPORT would let this node share a port with another running process
            // (requests silently split between two data directories): refuse a port in use.
            let probe = try TCPListener(address: address, loop: loops[0], reusePort: false)
            probe.closeNow()
        }
        for loop in loops {
            let listener = try TCPListener(address: bound, loop: loop, reusePort: loops.count > 1)
            bound = listener.localAddress
            listeners.append(listener)
        }
        self.listeners = listeners
        self.localAddress = bound
        // One table for every loop: a client's connections land on all of them.
        let clients = limits.clients.isOff ? nil : ClientGate(limits.clients)
        for listener in listeners {
            let loop = listener.loop
            let gate = ConnectionRegistry(limit: limits.connectionsPerLoopMax)
            registries.append(gate)
            let task = loop.spawn {
                let ids = RequestIDs()
                while !Task.isCancelled {
                    let connection: TCPConnection
                    do throws(IOError) {
                        connection = try await listener.accept()
                    } catch {
                        if error.kind == .cancelled || Task.isCancelled { return }
                        // Out of descriptors (EMFILE) or another transient failure: wait for
                        // connections to close instead of spinning.
                        do {
                            try await loop.sleep(for: .milliseconds(50))
                        } catch {
                            return  // cancelled while waiting: the server is stopping
                        }
                        continue
                    }
                    // Over its client's share: 429 at once, before it takes a place on the loop.
                    var client: (gate: ClientGate, address: String)?
                    if let clients, let address = connection.peerAddress()?.host {
                        if let refusal = clients.admitConnection(address) {
                            guard gate.refusing < HTTPServerConnection.overLimitRefusalsMax else {
                                await connection.close()
                                continue
                            }
                            gate.refusing += 1
                            let message = refusal == .clientConnections
                                ? "\(address) has \(clients.limits.connectionsMax) connections open: close some, or try again shortly"
                                : "\(address) opens connections faster than \(clients.limits.connectionsPerSecond) a second: keep them alive, or slow down"
                            loop.spawn {
                                await HTTPServerConnection.refuseAtOnce(connection, ids: ids, onExchange: onExchange, status: 429,
                                                                        message: message, error: "over a per-client limit (\(refusal.rawValue))",
                                                                        refusal: refusal)
                                gate.refusing -= 1
                            }
                            continue
                        }
                        client = (clients, address)
                    }
                    // At the limit: the longest-idle connection makes room, or, with none idle,
                    // this one hears 503 at once (waiting in the backlog, it would hang).
                    guard gate.admit() else {
                        if let client { client.gate.connectionClosed(client.address) }
                        guard gate.refusing < HTTPServerConnection.overLimitRefusalsMax else {
                            await connection.close()
                            continue
                        }
                        gate.refusing += 1
                        loop.spawn {
                            await HTTPServerConnection.refuseOverLimit(connection, ids: ids, onExchange: onExchange,
                                                                       limit: gate.limit)
                            gate.refusing -= 1
                        }
                        continue
                    }
                    let served = HTTPServerConnection(stream: HTTPStream(connection: connection, limits: limits),
                                                      loop: loop, ids: ids, handler: handler, onExchange: onExchange,
                                                      registry: gate, secure: secure, client: client)
                    let task = loop.spawn { [client] in
                        await served.run()
                        gate.leave(served)
                        if let client { client.gate.connectionClosed(client.address) }
                    }
                    gate.track(served, task)
                }
            }
            acceptTasks.append(task)
        }
    }

    /// Stops accepting and closes idle connections; exchanges in progress get up to
    /// `drainTimeout` to finish (an upload its cleanup), then they are cancelled.
    public func stop(drainTimeout: Duration = .seconds(15)) async {
        for task in acceptTasks { task.cancel() }
        for task in acceptTasks { _ = await task.result }
        for (listener, registry) in zip(listeners, registries) {
            _ = await listener.loop.spawn {
                await listener.close()
                registry.beginStopping()
            }.result
        }
        let deadline = ContinuousClock.now + drainTimeout
        for (listener, registry) in zip(listeners, registries) {
            _ = await listener.loop.spawn {
                while registry.open > 0 && ContinuousClock.now < deadline {
                    try await listener.loop.sleep(for: .milliseconds(20))
                }
                registry.cancelAll()
                // Cancelled exchanges still run their cleanup; give them a moment to finish.
                let hardDeadline = ContinuousClock.now + .seconds(5)
                while registry.open > 0 && ContinuousClock.now < hardDeadline {
                    try await listener.loop.sleep(for: .milliseconds(20))
                }
            }.result
        }
    }
}

/// Request ids: a random per-loop prefix and a counter, cheap and unique enough for logs.
final class RequestIDs: @unchecked Sendable {
    private let prefix: String
    private var counter: UInt64 = 0

    init() {
        prefix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }

    func next() -> String {
        counter += 1
        return "\(prefix)-\(String(counter, radix: 16))"
    }
}

/// The per-client limits of one server, shared by its loops.
final class ClientGate: Sendable {
    let limits: ClientLimiter.Limits
    private let state: Mutex<ClientLimiter>

    init(_ limits: ClientLimiter.Limits) {
        self.limits = limits
        state = Mutex(ClientLimiter(limits: limits))
    }

    func admitConnection(_ address: String) -> ClientLimiter.Refusal? {
        state.withLock { $0.admitConnection(address, at: .now) }
    }

    func connectionClosed(_ address: String) { state.withLock { $0.connectionClosed(address) } }
    func beginRequest(_ address: String) -> ClientLimiter.Refusal? { state.withLock { $0.beginRequest(address) } }
    func requestEnded(_ address: String) { state.withLock { $0.requestEnded(address) } }
}

/// The open connections of one loop: bounds them (closing the longest idle at the limit) and lets
/// a stopping server close idle ones and wait for busy ones. Loop-confined.
final class ConnectionRegistry: @unchecked Sendable {
    let limit: Int
    private var tasks: [ObjectIdentifier: Task<Void, Error>] = [:]
    /// Idle connections, each with when it became idle (a sequence number: older is smaller).
    private var idle: [ObjectIdentifier: UInt64] = [:]
    private var idleSequence: UInt64 = 0
    /// Idle connections told to close to make room, not gone yet.
    private var evicting: Set<ObjectIdentifier> = []
    private(set) var open = 0
    /// Connections being answered 503 (over the limit).
    var refusing = 0
    /// Set when the server stops: connections finish their exchange and close.
    private(set) var stopping = false

    init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
    }

    /// Counts a new connection in; at the limit, first closes the connection idle longest.
    /// `false`: the limit is reached and none is idle — the new one must be refused.
    func admit() -> Bool {
        // Connections already told to close count as gone: room is made once per newcomer.
        if open - evicting.count >= limit {
            guard let oldest = idle.filter({ !evicting.contains($0.key) }).min(by: { $0.value < $1.value })?.key else { return false }
            evicting.insert(oldest)
            tasks[oldest]?.cancel()
        }
        open += 1
        return true
    }

    /// An accepted connection that failed before it was served.
    func leave() {
        open -= 1
    }

    func track(_ connection: HTTPServerConnection, _ task: Task<Void, Error>) {
        // The connection may have finished already (it runs as soon as it is spawned).
        if connection.isFinished { return }
        tasks[ObjectIdentifier(connection)] = task
    }

    func leave(_ connection: HTTPServerConnection) {
        tasks[ObjectIdentifier(connection)] = nil
        idle[ObjectIdentifier(connection)] = nil
        evicting.remove(ObjectIdentifier(connection))
        leave()
    }

    /// The connection waits for its next request (kept alive, or its head still coming): a
    /// stopping server, or one at its connection limit, may close it.
    func setIdle(_ connection: HTTPServerConnection, _ isIdle: Bool) {
        if isIdle {
            idleSequence += 1
            idle[ObjectIdentifier(connection)] = idleSequence
        } else {
            idle[ObjectIdentifier(connection)] = nil
        }
    }

    func beginStopping() {
        stopping = true
        for id in idle.keys { tasks[id]?.cancel() }
    }

    func cancelAll() {
        for task in tasks.values { task.cancel() }
    }
}
