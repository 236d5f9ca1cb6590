import CLiburing
import Glibc

/// A connected TCP socket owned by one event loop.
///
/// Receives and sends take caller-owned memory and keep the connection alive until the
/// kernel is done with it. Short sends are continued here, once, for every caller.
public final class TCPConnection: @unchecked Sendable {
    /// The socket descriptor.
    public let fd: Int32
    /// The loop every operation on this connection runs on.
    public let loop: EventLoop
    /// Whether ``close()`` was called.
    public private(set) var isClosed = false
    /// Bytes the kernel took from every send so far, also from a send that then failed
    /// (what an access log must count for a response cut short).
    public private(set) var bytesSentTotal = 0

    init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
        Socket.setNoDelay(fd)
        if loop.engine.wantsNonblockingSockets { Socket.setNonblocking(fd) }
    }

    deinit {
        if !isClosed { loop.closeDetached(fd) }
    }

    /// Connects to `address`, failing with `ETIMEDOUT` after `timeout`.
    public static func connect(to address: SocketAddress, on loop: EventLoop,
                               timeout: Duration? = .seconds(5)) async throws(IOError) -> TCPConnection {
        loop.assertInLoop()
        var type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if loop.engine.wantsNonblockingSockets { type |= Int32(SOCK_NONBLOCK.rawValue) }
        let fd = socket(address.family, type, 0)
        if fd < 0 { throw IOError(errno: Glibc.errno, operation: "socket") }
        let connection = TCPConnection(fd: fd, loop: loop)
        // The kernel may read the address after this call returns, so it lives on the heap
        // until the completion arrives.
        let storage = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: 1)
        storage.initialize(to: address.storage)
        defer { storage.deallocate() }
        let pointer = UnsafeRawPointer(storage).assumingMemoryBound(to: sockaddr.self)
        let result = await loop.perform(.connect(fd: fd, address: pointer, length: address.length), timeout: timeout)
        if result < 0 { throw IOError(errno: -result, operation: "connect \(address)") }
        return connection
    }

    /// Receives up to `buffer.count` bytes into `buffer`; returns 0 at end of stream.
    /// - Throws: ``IOError`` (`.connectionReset`, `.timedOut` when `timeout` passes first).
    public func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration? = nil) async throws(IOError) -> Int {
        precondition(!isClosed, "receive on a closed connection")
        guard buffer.count > 0 else { return 0 }
        while true {
            let result = await loop.perform(.recv(fd: fd, buffer: buffer.baseAddress!, count: buffer.count), timeout: timeout)
            if result >= 0 { return Int(result) }
            if result == -EINTR || result == -EAGAIN { continue }
            throw IOError(errno: -result, operation: "recv")
        }
    }

    /// Receives exactly `buffer.count` bytes.
    /// - Throws: ``IOError`` with `ECONNRESET` when the stream ends first.
    public func receiveExactly(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration? = nil) async throws(IOError) {
        var offset = 0
        while offset < buffer.count {
            let got = try await receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]), timeout: timeout)
            if got == 0 { throw IOError(errno: ECONNRESET, operation: "recv (peer closed after \(offset) of \(buffer.count) bytes)") }
            offset += got
        }
    }

    /// Sends all of `bytes`, continuing after short sends.
    /// - Throws: ``IOError`` (`.brokenPipe`, `.connectionReset`, `.timedOut`).
    public func send(_ bytes: UnsafeRawBufferPointer, timeout: Duration? = nil) async throws(IOError) {
        precondition(!isClosed, "send on a closed connection")
        var offset = 0
        while offset < bytes.count {
            let result = await loop.perform(.send(fd: fd, buffer: bytes.baseAddress! + offset, count: bytes.count - offset), timeout: timeout)
            if result > 0 {
                offset += Int(result)
                bytesSentTotal += Int(result)
                continue
            }
            if result == -EINTR || result == -EAGAIN { continue }
            if result == 0 { throw IOError(errno: EPIPE, operation: "send (no progress)") }
            throw IOError(errno: -result, operation: "send")
        }
    }

    /// Sends the UTF-8 bytes of a string (heads, small bodies).
    public func send(_ string: String, timeout: Duration? = nil) async throws(IOError) {
        // Copied to memory we own: a String's storage pointer is valid only inside withUTF8,
        // and the kernel may read it after this call suspends.
        var copy = string
        let pinned = copy.withUTF8 { utf8 in
            let pinned = UnsafeMutableRawBufferPointer.allocate(byteCount: max(utf8.count, 1), alignment: 1)
            pinned.copyMemory(from: UnsafeRawBufferPointer(utf8))
            return UnsafeRawBufferPointer(rebasing: pinned[0..<utf8.count])
        }
        defer { UnsafeMutableRawPointer(mutating: pinned.baseAddress!).deallocate() }
        try await send(pinned, timeout: timeout)
    }

    /// The peer's address (getpeername(2)); `nil` when the socket has none any more (reset).
    public func peerAddress() -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        return result == 0 ? SocketAddress(storage: storage, length: length) : nil
    }

    /// Closes the sending side; the peer sees end of stream.
    public func shutdownWrite() async {
        guard !isClosed else { return }
        _ = await loop.perform(.shutdown(fd: fd, how: Int32(SHUT_WR)))
    }

    /// Closes the socket. Safe to call twice.
    public func close() async {
        guard !isClosed else { return }
        isClosed = true
        _ = await loop.perform(.close(fd: fd))
    }
}
