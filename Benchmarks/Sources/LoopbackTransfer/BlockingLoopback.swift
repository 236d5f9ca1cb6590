import Glibc

/// The baseline: blocking `send`/`recv` loops on two threads over one loopback TCP
/// connection, the receiver on a thread of its own and the sender on the caller's thread,
/// so it uses the two cores the way the FlareIO cases do with two event loops.
public final class BlockingLoopback: @unchecked Sendable {
    private let listenFD: Int32
    private let port: UInt16
    private let blockBytes: Int
    private let sendBuffer: PinnedBuffer
    private let receiveBuffer: PinnedBuffer

    /// Listens on 127.0.0.1 (a free port) and makes both buffers.
    public init(blockBytes: Int = TransferShape.blockBytes) throws(TransferError) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw .system("socket", errno: errno) }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if bound != 0 || listen(fd, 16) != 0 {
            let error = errno
            Glibc.close(fd)
            throw .system("bind/listen 127.0.0.1:0", errno: error)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listenFD = fd
        port = UInt16(bigEndian: address.sin_port)
        self.blockBytes = blockBytes
        sendBuffer = PinnedBuffer(count: blockBytes, fill: 0x5a)
        receiveBuffer = PinnedBuffer(count: blockBytes, fill: 0)
    }

    deinit { Glibc.close(listenFD) }

    /// Sends `totalBytes` over a new connection and waits until the receiver has read all
    /// of them and seen end of stream.
    /// - Throws: ``TransferError`` on a failed call or when the byte counts differ.
    public func transfer(totalBytes: Int = TransferShape.totalBytes) throws(TransferError) -> TransferResult {
        let start = monotonicNanoseconds()
        let receiver = ReceiverThread(listenFD: listenFD, buffer: receiveBuffer)
        receiver.start()
        let sendError = sendAll(totalBytes: totalBytes)
        if sendError != nil {
            // A receiver still blocked in accept (connect failed) wakes with EINVAL.
            shutdown(listenFD, Int32(SHUT_RDWR))
        }
        let received = receiver.join()
        let elapsed = monotonicNanoseconds() - start
        if let sendError { throw sendError }
        if case let .failure(error) = received { throw error }
        guard case let .success(count) = received else { preconditionFailure() }
        return try TransferResult.verified(received: count, expected: totalBytes,
                                           elapsedNanoseconds: elapsed, label: "blocking")
    }

    private func sendAll(totalBytes: Int) -> TransferError? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return .system("socket", errno: errno) }
        // Closing is what tells the receiver the stream is over, also after an error.
        defer { Glibc.close(fd) }
        setNoDelay(fd)
        var address = Self.loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 { return .system("connect 127.0.0.1:\(port)", errno: errno) }
        var sent = 0
        while sent < totalBytes {
            var offset = 0
            let chunk = min(blockBytes, totalBytes - sent)
            while offset < chunk {
                let result = send(fd, sendBuffer.base + offset, chunk - offset, Int32(MSG_NOSIGNAL))
                if result < 0 {
                    if errno == EINTR { continue }
                    return .system("send", errno: errno)
                }
                offset += result
            }
            sent += chunk
        }
        return nil
    }

    static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }
}

/// FlareIO sets TCP_NODELAY on every connection; the baseline does too, so the sockets match.
func setNoDelay(_ fd: Int32) {
    var on: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
}

/// Accepts one connection and reads it to end of stream on a thread of its own.
private final class ReceiverThread: @unchecked Sendable {
    private let listenFD: Int32
    private let buffer: PinnedBuffer
    private var thread = pthread_t()
    private var result: Result<Int, TransferError> = .failure(TransferError("receiver never ran"))

    init(listenFD: Int32, buffer: PinnedBuffer) {
        self.listenFD = listenFD
        self.buffer = buffer
    }

    func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(&thread, nil, { context in
            let receiver = Unmanaged<ReceiverThread>.fromOpaque(context!).takeRetainedValue()
            receiver.result = receiver.receiveAll()
            return nil
        }, context)
        precondition(created == 0, "pthread_create failed: \(created)")
    }

    /// Waits for the thread; its result is safe to read after the join.
    func join() -> Result<Int, TransferError> {
        pthread_join(thread, nil)
        return result
    }

    private func receiveAll() -> Result<Int, TransferError> {
        let fd = accept(listenFD, nil, nil)
        if fd < 0 { return .failure(.system("accept", errno: errno)) }
        defer { Glibc.close(fd) }
        setNoDelay(fd)
        var received = 0
        while true {
            let count = recv(fd, buffer.base, buffer.count, 0)
            if count > 0 { received += count; continue }
            if count == 0 { return .success(received) }
            if errno == EINTR { continue }
            return .failure(.system("recv after \(received) bytes", errno: errno))
        }
    }
}
