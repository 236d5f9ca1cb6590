import FlareCore
import FlareIO

/// Holds the repair's copies to `--repair-bandwidth`, all of them together: each copy asks
/// before it reads its chunk and waits its turn. 0 bytes per second: no limit.
final class CopyPacer: @unchecked Sendable {
    let bytesPerSecond: Int
    /// The earliest time the next byte may go (a virtual schedule: a copy of n bytes moves it
    /// n / rate later); up to `burst` ahead of now goes at once.
    private var nextFree = ContinuousClock.now
    private let burst = Duration.milliseconds(250)

    init(bytesPerSecond: Int) {
        precondition(bytesPerSecond >= 0)
        self.bytesPerSecond = bytesPerSecond
    }

    /// Waits until `bytes` may be copied; returns at once without a limit. Called on the
    /// worker's loop only (the schedule is not locked).
    func pace(_ bytes: Int, on loop: EventLoop) async {
        guard bytesPerSecond > 0 else { return }
        let now = ContinuousClock.now
        let start = max(nextFree, now)
        nextFree = start + .seconds(Double(bytes) / Double(bytesPerSecond))
        let wait = start - now - burst
        guard wait > .zero else { return }
        do {
            try await loop.sleep(for: wait)
        } catch {
            return  // cancelled: the caller checks and stops
        }
    }
}
