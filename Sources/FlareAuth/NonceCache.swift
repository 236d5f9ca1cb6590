/// The nonces of the signed requests a data node accepted, kept as long as their time is
/// within the window (older ones are refused as stale anyway), to refuse a request sent
/// again. Kept by the second they were signed in: a replay carries its original time (the
/// time is signed), so a nonce is looked up in its own second only, and a second that leaves
/// the window goes at once.
///
/// Bounded by ``countMax``: when full, the oldest second is forgotten and every request
/// signed at or before it is refused from then on (``Admission/forgotten``). A replay is
/// therefore never accepted, however many requests come; the price under a flood is that
/// the window shrinks from its old end, where a sender whose clock is right sends nothing.
///
/// Pure, and driven by the caller's clock: tests pass the instants.
public struct NonceCache: Sendable {
    /// What became of a nonce offered to the cache.
    public enum Admission: Sendable, Equatable {
        /// Not seen before: recorded.
        case fresh
        /// Seen before with the same time: a replay.
        case replayed
        /// Signed at or before a second the cache had to forget to stay bounded.
        case forgotten
    }

    /// Nonces held at most.
    public let countMax: Int
    /// How far a request's time may be from the clock either way; nonces are kept this long
    /// past their time.
    public let windowSeconds: Int64
    /// Nonces held now.
    public private(set) var count = 0
    /// Requests signed at or before this second are refused: their nonces were dropped to
    /// stay within ``countMax``.
    public private(set) var forgottenThrough = Int64.min
    private var bySecond: [Int64: Set<RequestNonce>] = [:]
    private var purgedAt = Int64.min

    public init(countMax: Int, windowSeconds: Int) {
        precondition(countMax > 0 && windowSeconds > 0)
        self.countMax = countMax
        self.windowSeconds = Int64(windowSeconds)
    }

    /// Records `nonce` of a request signed at `time`, or says why it is refused. The caller
    /// has checked that `time` is within the window of `now`.
    public mutating func admit(_ nonce: RequestNonce, time: Int64, now: Int64) -> Admission {
        purge(now)
        guard time > forgottenThrough else { return .forgotten }
        if bySecond[time]?.contains(nonce) == true { return .replayed }
        if count >= countMax {
            forgetOldestSecond()
            guard time > forgottenThrough else { return .forgotten }
        }
        bySecond[time, default: []].insert(nonce)
        count += 1
        return .fresh
    }

    /// Drops the seconds that have left the window, once per second of `now`.
    private mutating func purge(_ now: Int64) {
        guard now > purgedAt else { return }
        purgedAt = now
        for second in bySecond.keys where second < now - windowSeconds {
            count -= bySecond.removeValue(forKey: second)?.count ?? 0
        }
    }

    private mutating func forgetOldestSecond() {
        guard let oldest = bySecond.keys.min() else { return }
        count -= bySecond.removeValue(forKey: oldest)?.count ?? 0
        forgottenThrough = max(forgottenThrough, oldest)
    }
}
