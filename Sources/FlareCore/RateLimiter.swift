/// A token bucket of bytes per second: how long a caller must wait before sending (or
/// reading) some bytes so that, over time, no more than ``bytesPerSecond`` go, with at most
/// ``burstBytes`` at once after a pause.
///
/// A pure state machine: the caller passes the current instant, so tests drive it with a
/// manual clock and production with `ContinuousClock` (never the wall clock, which jumps).
/// Used by the data node's scrubber (`--scrub-bandwidth`) and meant for any background copy
/// that must leave the disk and network to clients (the api's repair, `--repair-bandwidth`).
///
/// Requests are *reserved*: ``delay(for:at:)`` takes the bytes from the bucket at once, even
/// past empty, and says how long to wait until the bucket has paid for them. So a request
/// larger than the burst is allowed (it waits longer), several callers sharing one limiter
/// queue up in the order they asked, and waiting *after* a transfer for the delay it was
/// given keeps the same average as waiting before it. A limit of 0 means unlimited.
public struct RateLimiter<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// The average rate; 0: unlimited.
    public let bytesPerSecond: Int
    /// The most that goes without waiting after an idle spell (the bucket's size).
    public let burstBytes: Int
    /// Bytes the bucket holds; negative while requests already granted are still being paid for.
    private var tokens: Double
    /// When ``tokens`` was last brought up to date.
    private var updated: Instant?

    /// - Parameters:
    ///   - bytesPerSecond: the average rate, 0 for unlimited.
    ///   - burstBytes: the bucket's size (at least 1); it starts full. A caller that moves
    ///     fixed-size blocks passes one block, so it never runs ahead by more than one.
    public init(bytesPerSecond: Int, burstBytes: Int) {
        precondition(bytesPerSecond >= 0, "a negative rate")
        precondition(burstBytes > 0, "a burst must hold at least one byte")
        self.bytesPerSecond = bytesPerSecond
        self.burstBytes = burstBytes
        tokens = Double(burstBytes)
    }

    /// Whether every request goes at once.
    public var isUnlimited: Bool { bytesPerSecond == 0 }

    /// Takes `bytes` from the bucket at `now` and returns how long to wait before they may
    /// go (`.zero` when the bucket had them). `now` should not go back; if it does, no time
    /// is counted as passed.
    public mutating func delay(for bytes: Int, at now: Instant) -> Duration {
        precondition(bytes >= 0, "a negative byte count")
        guard !isUnlimited else { return .zero }
        refill(at: now)
        tokens -= Double(bytes)
        guard tokens < 0 else { return .zero }
        return Self.duration(seconds: -tokens / Double(bytesPerSecond))
    }

    /// Bytes that could go at `now` without waiting (negative: owed by earlier requests);
    /// for metrics and tests.
    public mutating func available(at now: Instant) -> Double {
        guard !isUnlimited else { return .infinity }
        refill(at: now)
        return tokens
    }

    private mutating func refill(at now: Instant) {
        guard let last = updated else {
            updated = now
            return
        }
        guard last < now else { return }
        tokens = min(Double(burstBytes), tokens + last.duration(to: now).secondsValue * Double(bytesPerSecond))
        updated = now
    }

    /// Whole nanoseconds, rounded up, so a caller that waits the delay is never early.
    private static func duration(seconds: Double) -> Duration {
        let nanoseconds = (seconds * 1e9).rounded(.up)
        return nanoseconds >= Double(Int64.max) ? .nanoseconds(Int64.max) : .nanoseconds(Int64(nanoseconds))
    }
}
