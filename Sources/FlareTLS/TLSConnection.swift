import COpenSSL
import FlareIO
import Glibc

/// TLS over a ``TCPConnection``: OpenSSL encrypts and decrypts between two memory BIOs, and
/// the ciphertext moves through the connection's loop (io_uring or epoll) like any other bytes.
///
/// Incoming ciphertext is received into ``inbound`` and written into the read BIO; OpenSSL
/// decrypts it straight into the caller's buffer (a chunk buffer, for a body). Outgoing
/// plaintext is encrypted ``sliceBytes`` at a time into the write BIO and sent from ``outbound``.
/// Memory per connection: the two buffers and OpenSSL's state; idle, its record buffers are
/// released (SSL_MODE_RELEASE_BUFFERS).
public final class TLSConnection: ByteStream, @unchecked Sendable {
    /// Plaintext encrypted per SSL_write, then sent before the next: two records' worth.
    static let sliceBytes = 32 * 1024
    static let inboundBytes = 32 * 1024
    static let outboundBytes = 40 * 1024

    public let tcp: TCPConnection
    public var loop: EventLoop { tcp.loop }
    public private(set) var bytesSentTotal = 0

    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private let inbound: UnsafeMutableRawBufferPointer
    private let outbound: UnsafeMutableRawBufferPointer
    /// Set while a receive or send runs: they must never overlap on one SSL object.
    private var busy = false

    init(context: TLSServerContext, tcp: TCPConnection) throws(IOError) {
        guard let ssl = SSL_new(context.context), let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_mem()) else {
            throw IOError(errno: ENOMEM, operation: "TLS: \(TLSError.queue())")
        }
        // An empty read BIO means "wait for more", not end of stream.
        _ = flare_bio_set_mem_eof_retry(readBIO)
        SSL_set_bio(ssl, readBIO, writeBIO)  // the SSL object owns both BIOs from here
        SSL_set_accept_state(ssl)
        self.tcp = tcp
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        inbound = .allocate(byteCount: Self.inboundBytes, alignment: 64)
        outbound = .allocate(byteCount: Self.outboundBytes, alignment: 64)
    }

    deinit {
        SSL_free(ssl)
        inbound.deallocate()
        outbound.deallocate()
    }

    /// The server's handshake, within `timeout`.
    func handshake(timeout: Duration) async throws(IOError) {
        let deadline = ContinuousClock.now + timeout
        func left() throws(IOError) -> Duration {
            let left = deadline - .now
            guard left > .zero else { throw IOError(errno: ETIMEDOUT, operation: "TLS handshake") }
            return left
        }
        while true {
            let result = SSL_do_handshake(ssl)
            try await flush(timeout: left())
            if result == 1 { return }
            let code = SSL_get_error(ssl, result)
            guard code == SSL_ERROR_WANT_READ else { throw failure("handshake", code) }
            guard try await pull(timeout: left()) else {
                throw IOError(errno: ECONNRESET, operation: "TLS handshake (the client closed)")
            }
        }
    }

    public func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration?) async throws(IOError) -> Int {
        guard buffer.count > 0 else { return 0 }
        precondition(!busy, "TLS receive overlapping another operation on the connection")
        busy = true
        defer { busy = false }
        while true {
            let result = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
            if result > 0 { return Int(result) }
            let code = SSL_get_error(ssl, result)
            switch code {
            case SSL_ERROR_ZERO_RETURN:
                return 0  // close_notify
            case SSL_ERROR_WANT_READ:
                // TLS 1.3 may have answered something (a key update) in the meantime.
                try await flush(timeout: timeout)
                // A TCP end without close_notify is an end too: HTTP's framing tells a cut-short body.
                guard try await pull(timeout: timeout) else { return 0 }
            default:
                throw failure("read", code)
            }
        }
    }

    public func send(_ bytes: UnsafeRawBufferPointer, timeout: Duration?) async throws(IOError) {
        precondition(!busy, "TLS send overlapping another operation on the connection")
        busy = true
        defer { busy = false }
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, Self.sliceBytes)
            let result = SSL_write(ssl, bytes.baseAddress! + offset, Int32(count))
            guard result > 0 else { throw failure("write", SSL_get_error(ssl, result)) }
            try await flush(timeout: timeout)
            offset += Int(result)
            bytesSentTotal += Int(result)
        }
    }

    public func send(_ string: String, timeout: Duration?) async throws(IOError) {
        var copy = string
        // Encrypted before this returns: OpenSSL copies into its record, so no pinned copy.
        let count = copy.withUTF8 { $0.count }
        guard count > 0 else { return }
        precondition(!busy, "TLS send overlapping another operation on the connection")
        busy = true
        let result = copy.withUTF8 { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        guard result > 0 else {
            busy = false
            throw failure("write", SSL_get_error(ssl, result))
        }
        defer { busy = false }
        try await flush(timeout: timeout)
        bytesSentTotal += count
    }

    /// Sends close_notify (best effort, briefly), then ends the TCP sending side.
    public func shutdownWrite() async {
        guard !tcp.isClosed else { return }
        if !busy {
            busy = true
            _ = SSL_shutdown(ssl)
            try? await flush(timeout: .seconds(1))
            busy = false
        }
        await tcp.shutdownWrite()
    }

    public func close() async { await tcp.close() }

    /// Sends whatever OpenSSL has written into the write BIO.
    private func flush(timeout: Duration?) async throws(IOError) {
        while BIO_ctrl_pending(writeBIO) > 0 {
            let got = BIO_read(writeBIO, outbound.baseAddress, Int32(outbound.count))
            guard got > 0 else { break }
            try await tcp.send(UnsafeRawBufferPointer(rebasing: outbound[0..<Int(got)]), timeout: timeout)
        }
    }

    /// Receives ciphertext into the read BIO; `false` at the end of the TCP stream.
    private func pull(timeout: Duration?) async throws(IOError) -> Bool {
        let got = try await tcp.receive(into: inbound, timeout: timeout)
        guard got > 0 else { return false }
        let written = BIO_write(readBIO, inbound.baseAddress, Int32(got))
        precondition(written == Int32(got), "a memory BIO takes every byte")
        return true
    }

    private func failure(_ operation: String, _ code: Int32) -> IOError {
        IOError(errno: EPROTO, operation: "TLS \(operation): \(code == SSL_ERROR_SSL ? TLSError.queue() : "SSL_get_error \(code)")")
    }
}
