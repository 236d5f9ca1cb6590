import CLiburing
import Glibc

/// A listening TCP socket owned by one event loop.
public final class TCPListener: @unchecked Sendable {
    /// The listening descriptor.
    public let fd: Int32
    /// The loop that accepts on it.
    public let loop: EventLoop
    /// The address actually bound (the port is filled in when 0 was asked for).
    public let localAddress: SocketAddress
    private var closed = false

    /// Binds and listens. With `reusePort`, every loop of a node can bind the same port and
    /// the kernel spreads connections over them.
    public init(address: SocketAddress, loop: EventLoop, backlog: Int32 = 1024, reusePort: Bool = false) throws(IOError) {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw IOError(errno: Glibc.errno, operation: "socket") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size)) }
        var storage = address.storage
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, address.length) }
        }
        if bound != 0 {
            let error = Glibc.errno
            Glibc.close(fd)
            throw IOError(errno: error, operation: "bind \(address)")
        }
        if listen(fd, backlog) != 0 {
            let error = Glibc.errno
            Glibc.close(fd)
            throw IOError(errno: error, operation: "listen \(address)")
        }
        if loop.engine.wantsNonblockingSockets { Socket.setNonblocking(fd) }
        var actual = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.loop = loop
        self.localAddress = SocketAddress(storage: actual, length: length)
    }

    deinit {
        if !closed { loop.closeDetached(fd) }
    }

    /// Waits for the next connection. Transient failures (a peer that gave up before we
    /// accepted, EINTR) are retried here; running out of descriptors is reported.
    public func accept() async throws(IOError) -> TCPConnection {
        while true {
            let result = await loop.perform(.accept(fd: fd))
            if result >= 0 { return TCPConnection(fd: result, loop: loop) }
            switch -result {
            case EINTR, EAGAIN, ECONNABORTED, EPROTO: continue
            default: throw IOError(errno: -result, operation: "accept")
            }
        }
    }

    /// Closes at once a listener that was never used for accepting (start-up probes): the
    /// engine never saw its descriptor, so it can be closed from any thread.
    public func closeNow() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    /// Stops listening.
    public func close() async {
        guard !closed else { return }
        closed = true
        _ = await loop.perform(.close(fd: fd))
    }
}

/// Socket options shared by listeners and connections.
enum Socket {
    static func setNonblocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    static func setNoDelay(_ fd: Int32) {
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }
}
