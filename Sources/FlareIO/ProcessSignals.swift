import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Process-level signal handling shared by the executables.
public enum ProcessSignals {
    /// Ignores SIGPIPE (a peer closing a socket must be an error code, not a dead process)
    /// and waits until SIGINT or SIGTERM arrives.
    public static func waitForTermination() async -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        return await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let queue = DispatchQueue(label: "flare.signals")
            let once = OnceFlag()
            var sources: [DispatchSourceSignal] = []
            for number in [SIGINT, SIGTERM] {
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    if once.take() { continuation.resume(returning: number) }
                }
                source.resume()
                sources.append(source)
            }
            // The sources must outlive this closure; they live until the process exits.
            Retained.keep(sources)
        }
    }

    /// Calls `handler` on a queue of its own every time SIGHUP arrives — a daemon's "read
    /// your files again" — instead of SIGHUP's default, which ends the process. Call once.
    public static func onHangup(_ handler: @escaping @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "flare.hangup"))
        source.setEventHandler(handler: handler)
        source.resume()
        Retained.keep(source)
    }

    /// Ignores SIGPIPE without waiting for anything.
    public static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }
}

/// True for the first caller only: the continuation is resumed once, whichever signal comes.
private final class OnceFlag: Sendable {
    private let taken = Mutex(false)
    func take() -> Bool {
        taken.withLock { taken in
            defer { taken = true }
            return !taken
        }
    }
}

private enum Retained {
    nonisolated(unsafe) static var objects: [Any] = []
    static func keep(_ object: Any) { objects.append(object) }
}
