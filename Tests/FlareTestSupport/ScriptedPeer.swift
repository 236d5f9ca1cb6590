import FlareIO
import Synchronization

/// A peer that plays `script` on each connection it accepts (numbered from 1) and counts them:
/// the count says how many attempts the client made.
public final class ScriptedPeer: Sendable {
    public typealias Script = @Sendable (_ number: Int, _ connection: TCPConnection) async throws -> Void

    public let address: SocketAddress
    private let listener: TCPListener
    private let loop: EventLoop
    private let accepted = Mutex(0)
    private let tasks = Mutex<[Task<Void, Error>]>([])

    /// Connections accepted so far.
    public var connections: Int { accepted.withLock { $0 } }

    public init(on loop: EventLoop, _ script: @escaping Script) throws {
        listener = try TCPListener(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop)
        address = listener.localAddress
        self.loop = loop
        let acceptor = loop.spawn { [self] in
            while true {
                let connection = try await listener.accept()
                let number = accepted.withLock { $0 += 1; return $0 }
                let task = loop.spawn {
                    do {
                        try await script(number, connection)
                    } catch {
                        await connection.close()
                        throw error
                    }
                    await connection.close()
                }
                tasks.withLock { $0.append(task) }
            }
        }
        tasks.withLock { $0.append(acceptor) }
    }

    /// Stops accepting and waits for every script to end (each ends when the client closes
    /// its side, or at its own hang guard).
    public func stop() async {
        let all = tasks.withLock { $0 }
        all.first?.cancel()
        for task in all { _ = await task.result }
        _ = await loop.spawn { [listener] in await listener.close() }.result
    }
}

/// Reads one request head (up to its blank line) from `connection`; false at end of stream.
public func readRequestHead(_ connection: TCPConnection) async throws -> Bool {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
    defer { buffer.deallocate() }
    var text = ""
    while !text.hasSuffix("\r\n\r\n") {
        // Hang guard: a client that sends nothing for 10 s is not what these tests are about.
        let count = try await connection.receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<1]), timeout: .seconds(10))
        if count == 0 { return false }
        text += String(decoding: buffer[0..<1], as: UTF8.self)
    }
    return true
}

/// Waits until the client closes its side, or 10 s (a hang guard: then the peer closes, and a
/// client still waiting sees a closed connection, not the timeout the test expects).
public func waitForClientClose(_ connection: TCPConnection) async throws {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
    defer { buffer.deallocate() }
    while true {
        let count: Int
        do {
            count = try await connection.receive(into: buffer, timeout: .seconds(10))
        } catch {
            if error.kind == .timedOut || error.kind == .connectionReset { return }
            throw error
        }
        if count == 0 { return }
    }
}

/// Sends `bytes` from memory that stays put while the kernel reads it.
public func sendBytes(_ connection: TCPConnection, _ bytes: [UInt8]) async throws {
    guard !bytes.isEmpty else { return }
    let pinned = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
    defer { pinned.deallocate() }
    pinned.copyBytes(from: bytes)
    try await connection.send(UnsafeRawBufferPointer(pinned))
}
