import CLiburing

/// What every I/O engine implements. One engine belongs to one `EventLoop` and is used
/// only from that loop's thread, except ``wake()``.
///
/// Engines imitate a completion model: operations are queued with a token, and
/// ``poll(block:timeoutNanoseconds:into:)`` reports finished tokens. The loop, not the
/// engine, resumes the waiting tasks, after the reaping is done.
protocol IOEngine: AnyObject {
    /// Which engine this is.
    var kind: IOEngineKind { get }

    /// Sockets this engine wants to be created nonblocking (epoll needs it; io_uring does not).
    var wantsNonblockingSockets: Bool { get }

    /// Attempts the operation synchronously when that cannot block; `nil` means "queue it".
    func tryImmediately(_ op: IOOperation) -> Int32?

    /// Queues an operation. `timeout`, when given, points at stable memory that lives until
    /// the completion is reported. `attempted` says ``tryImmediately(_:)`` just found that
    /// it would block, so it need not be tried again before waiting.
    func enqueue(_ op: IOOperation, token: UInt64, timeout: UnsafeMutablePointer<__kernel_timespec>?, attempted: Bool)

    /// Queues operations that run in order, each only if the previous one succeeded in full;
    /// the ones not run complete with `-ECANCELED`. Tokens are `firstToken + index`.
    func enqueueChain(_ ops: [IOOperation], firstToken: UInt64)

    /// Asks the engine to cancel a queued operation; its completion still arrives (usually
    /// `-ECANCELED`), and only then may its buffers be reused.
    func cancel(token: UInt64)

    /// Submits everything queued since the last call in one system call and collects
    /// completions; blocks until at least one arrives when `block` is true.
    func poll(block: Bool, into completions: inout [IOCompletion]) throws(IOError)

    /// Interrupts a blocking ``poll(block:into:)``. Safe from any thread.
    func wake()

    /// Drops what the engine knows about a descriptor that is about to be closed.
    func forget(_ fd: Int32)

    /// Releases the engine's kernel resources. Called once on the loop thread when it exits.
    func shutdown()
}

/// The `user_data` tokens with this bit set belong to the engine itself (wake-ups, linked
/// timeouts, cancel requests) and are never reported to the loop.
let internalTokenBit: UInt64 = 1 << 63
