import Synchronization

/// A value every loop reads and a reload (SIGHUP: the secret or token files read again)
/// replaces at once, for all of them: how a node takes a new cluster secret or admin token
/// without a restart.
public final class Reloadable<Value: Sendable>: Sendable {
    private let state: Mutex<Value>

    public init(_ value: Value) { state = Mutex(value) }

    /// The value now.
    public var current: Value { state.withLock { $0 } }

    /// Replaces the value; requests checked from now on see the new one.
    public func replace(_ value: Value) { state.withLock { $0 = value } }
}
