import FlareIO

/// A background pass run every `intervalSeconds` on a loop — the first one interval after
/// ``start()``, not at once: a start is busy enough, and a process restarting in a loop must
/// not repeat the pass each time — until ``stop()``.
final class PeriodicPass: @unchecked Sendable {
    private let loop: EventLoop
    private let intervalSeconds: Double
    private let pass: @Sendable () async -> Void
    private var task: Task<Void, Error>?

    init(loop: EventLoop, intervalSeconds: Double, _ pass: @escaping @Sendable () async -> Void) {
        precondition(intervalSeconds > 0)
        self.loop = loop
        self.intervalSeconds = intervalSeconds
        self.pass = pass
    }

    func start() {
        task = loop.spawn { [loop, intervalSeconds, pass] in
            while !Task.isCancelled {
                try await loop.sleep(for: .seconds(intervalSeconds))
                await pass()
            }
        }
    }

    /// Cancels the pass and waits until it has ended.
    func stop() async {
        task?.cancel()
        _ = await task?.result
    }
}
