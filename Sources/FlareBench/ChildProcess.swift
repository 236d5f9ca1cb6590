import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starting and stopping child processes without the traps Foundation leaves on Linux.
enum ChildProcess {
    /// Starts `process` with no signals blocked. posix_spawn copies the calling thread's
    /// signal mask, and the threads Swift concurrency runs on block signals: a child started
    /// from one would never see SIGINT or SIGTERM (strace would never detach, a server
    /// would never stop).
    static func start(_ process: Process) throws {
        var empty = sigset_t()
        var saved = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try process.run()
    }

    /// Waits for `process` to exit, sleeping between checks (Foundation's waitUntilExit
    /// spins a run loop at full CPU here), and kills it after `timeoutSeconds`.
    static func wait(_ process: Process, timeoutSeconds: Double = 60) {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning {
            if Date() > deadline { kill(process.processIdentifier, SIGKILL) }
            usleep(10_000)
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited after `graceSeconds`.
    static func stop(_ process: Process, signal: Int32 = SIGTERM, graceSeconds: Double = 10) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        wait(process, timeoutSeconds: graceSeconds)
    }
}
