import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A live progress line on a terminal (rewritten in place twice a second); plain lines
/// when the output is not a terminal.
public final class ProgressReporter: @unchecked Sendable {
    public let isTerminal = isatty(STDOUT_FILENO) != 0
    private let lock = NSLock()
    private var label = ""
    private var bytes = 0
    private var started = Date()
    private var timer: DispatchSourceTimer?

    public init() {}

    /// Starts a step; on a terminal its progress updates until ``finish(_:)``.
    public func begin(_ label: String) {
        lock.lock()
        self.label = label
        bytes = 0
        started = Date()
        lock.unlock()
        guard isTerminal else {
            print("… \(label)")
            return
        }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + 0.5, repeating: 0.5)
        timer.setEventHandler { [weak self] in self?.draw() }
        timer.resume()
        self.timer = timer
    }

    /// Adds bytes moved; safe from any thread.
    public func add(_ count: Int) {
        lock.lock()
        bytes += count
        lock.unlock()
    }

    /// Ends the step with a summary line.
    public func finish(_ summary: String) {
        timer?.cancel()
        timer = nil
        if isTerminal { print("\r\u{1B}[2K", terminator: "") }
        print("✓ \(summary)")
        fflush(nil)
    }

    private func draw() {
        lock.lock()
        let seconds = Date().timeIntervalSince(started)
        let line = String(format: "  %@ … %.0f MB in %.1f s (%.0f MB/s)", label, Double(bytes) / 1e6, seconds,
                          seconds > 0 ? Double(bytes) / 1e6 / seconds : 0)
        lock.unlock()
        print("\r\u{1B}[2K\(line)", terminator: "")
        fflush(nil)
    }
}
