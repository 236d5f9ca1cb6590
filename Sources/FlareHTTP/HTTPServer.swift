import FlareIO
import Glibc

/// An HTTP/1.1 server: one listening socket per event loop on the same port
/// (SO_REUSEPORT), each connection served start to end on the loop that accepted it.
public final class HTTPServer: @unchecked Sendable {
    /// Open connections per loop; beyond this, accepting waits (the kernel backlog holds
    /// the rest).
    public static let connectionsPerLoopMax = 4096

    /// The address bound (with the real port when 0 was asked for).
    public let localAddress: SocketAddress
    private let listeners: [TCPListener]
    private var acceptTasks: [Task<Void, Error>] = []

    /// Binds `address` on every loop and starts accepting.
    /// - Parameter onExchange: called after each exchange (access log, metrics).
    public init(address: SocketAddress, loops: [EventLoop], limits: HTTPLimits = HTTPLimits(),
                onExchange: (@Sendable (HTTPExchangeRecord) -> Void)? = nil,
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
        for listener in listeners {
            let loop = listener.loop
            let task = loop.spawn {
                let ids = RequestIDs()
                let gate = ConnectionGate(limit: Self.connectionsPerLoopMax)
                while !Task.isCancelled {
                    await gate.enter()
                    let connection: TCPConnection
                    do throws(IOError) {
                        connection = try await listener.accept()
                    } catch {
                        gate.leave()
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
                    loop.spawn {
                        let served = HTTPServerConnection(stream: HTTPStream(connection: connection, limits: limits),
                                                          loop: loop, ids: ids, handler: handler, onExchange: onExchange)
                        await served.run()
                        gate.leave()
                    }
                }
            }
            acceptTasks.append(task)
        }
    }

    /// Stops accepting; connections already open finish their current exchange.
    public func stop() async {
        for task in acceptTasks { task.cancel() }
        for task in acceptTasks { _ = await task.result }
        for listener in listeners { _ = await listener.loop.spawn { await listener.close() }.result }
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

/// Counts open connections on one loop and makes accepting wait at the limit.
final class ConnectionGate: @unchecked Sendable {
    private let limit: Int
    private var open = 0
    private var waiter: UnsafeContinuation<Void, Never>?

    init(limit: Int) { self.limit = limit }

    func enter() async {
        if open >= limit { await withUnsafeContinuation { waiter = $0 } }
        open += 1
    }

    func leave() {
        open -= 1
        if let waiter { self.waiter = nil; waiter.resume() }
    }
}
