/// A connected, ordered byte stream on one loop: a TCP connection, or TLS over one.
///
/// The HTTP codec reads and writes through this, so HTTPS is the same server with another
/// stream under it. One task uses a stream at a time (a connection's requests are served in
/// order); receives and sends never overlap.
public protocol ByteStream: AnyObject, Sendable {
    /// The loop every operation on this stream runs on.
    var loop: EventLoop { get }
    /// Bytes of the caller's handed on to the peer so far (for a TLS stream: plaintext).
    var bytesSentTotal: Int { get }
    /// Receives up to `buffer.count` bytes; returns 0 at end of stream.
    func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration?) async throws(IOError) -> Int
    /// Sends all of `bytes`.
    func send(_ bytes: UnsafeRawBufferPointer, timeout: Duration?) async throws(IOError)
    /// Sends the UTF-8 bytes of a string.
    func send(_ string: String, timeout: Duration?) async throws(IOError)
    /// Ends the sending side; the peer sees end of stream.
    func shutdownWrite() async
    /// Closes the stream. Safe to call twice.
    func close() async
}

extension TCPConnection: ByteStream {}
