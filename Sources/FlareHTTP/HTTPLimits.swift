/// Limits on what a peer may send, and how long it may take. Every one is bounded.
public struct HTTPLimits: Sendable {
    /// Largest request or response head (request line + headers), in bytes → 431.
    public var headBytesMax = 16 * 1024
    /// Most header fields in one head → 431.
    public var headerCountMax = 100
    /// Longest request target → 414.
    public var targetBytesMax = 8 * 1024
    /// Longest chunk-size line (with extensions) in a chunked body → 400.
    public var chunkLineBytesMax = 1024
    /// Longest trailer section of a chunked body → 400.
    public var trailerBytesMax = 4 * 1024
    /// How long a kept-alive connection may sit without a new request before it is closed.
    public var idleTimeoutSeconds = 60
    /// How long a started request head may take to arrive → 408.
    public var headTimeoutSeconds = 10
    /// Longest wait for the next piece of a body → 408 (or a body error on the client); also
    /// the longest a response may wait to be sent.
    public var bodyTimeoutSeconds = 30
    /// Open connections per loop. At the limit a new connection closes the one idle longest
    /// (kept alive, or still sending its head); with none idle it is answered 503 and closed
    /// at once — never left waiting in the kernel's backlog.
    public var connectionsPerLoopMax = 4096
    /// What one client address may hold and how fast it may connect (off unless set).
    public var clients = ClientLimiter.Limits.off

    /// What the three timeouts may be set to: at least a second (a shorter one would cut off
    /// clients on any real network), at most an hour (a peer silent for longer is gone).
    public static let timeoutSecondsRange = 1...3600

    public init() {}
}
