import FlareCore
import FlareIO

/// Holds the repair's copies to `--repair-bandwidth`, all of them together: each copy asks
/// before it reads its chunk and waits its turn (FlareCore's `RateLimiter`, a quarter
/// second's worth of burst). 0 bytes per second: no limit.
final class CopyPacer: @unchecked Sendable {
    let bytesPerSecond: Int
    /// Called on the worker's loop only, so not locked.
    private var limiter: RateLimiter<ContinuousClock.Instant>

    init(bytesPerSecond: Int) {
        precondition(bytesPerSecond >= 0)
        self.bytesPerSecond = bytesPerSecond
        limiter = RateLimiter(bytesPerSecond: bytesPerSecond, burstBytes: max(1, bytesPerSecond / 4))
    }

    /// Waits until `bytes` may be copied; returns at once without a limit.
    func pace(_ bytes: Int, on loop: EventLoop) async {
        guard bytesPerSecond > 0 else { return }
        let wait = limiter.delay(for: bytes, at: .now)
        guard wait > .zero else { return }
        do {
            try await loop.sleep(for: wait)
        } catch {
            return  // cancelled: the caller checks and stops
        }
    }
}
