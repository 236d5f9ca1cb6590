import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Starting and stopping child processes without the traps Foundation leaves on Linux.
public enum ChildProcess {
    /// Starts `process` with no signals blocked. posix_spawn copies the calling thread's
    /// signal mask, and the threads Swift concurrency runs on block signals: a child started
    /// from one would never see SIGINT or SIGTERM (strace would never detach, a server
    /// would never stop).
    static func start(_ process: Process) throws {
        parkIfInterrupted()
        var empty = sigset_t()
        var saved = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try process.run()
        running.withLock { _ = $0.insert(process.processIdentifier) }
    }

    /// Starts `executable` with `arguments`, its output (both streams) going to the file
    /// `log` (created empty).
    static func start(_ executable: String, _ arguments: [String], log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)
        process.standardOutput = handle
        process.standardError = handle
        try start(process)
        return process
    }

    /// Waits for `process` to exit, sleeping between checks (Foundation's waitUntilExit
    /// spins a run loop at full CPU here), and kills it after `timeoutSeconds`.
    static func wait(_ process: Process, timeoutSeconds: Double = 60) {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning {
            if Date() > deadline { kill(process.processIdentifier, SIGKILL) }
            usleep(10_000)
        }
        running.withLock { _ = $0.remove(process.processIdentifier) }
        // A child killed by the signal thread ends here: the run must not go on with it.
        parkIfInterrupted()
    }

    /// SIGTERM, then SIGKILL if it has not exited after `graceSeconds`.
    static func stop(_ process: Process, signal: Int32 = SIGTERM, graceSeconds: Double = 10) {
        guard process.isRunning else {
            running.withLock { _ = $0.remove(process.processIdentifier) }
            return
        }
        kill(process.processIdentifier, signal)
        wait(process, timeoutSeconds: graceSeconds)
    }

    // MARK: - An interrupted run

    /// Children started and not yet seen to exit: what an interrupted run must stop.
    private static let running = Mutex(Set<Int32>())
    /// Set once a signal came: no new child starts while the run is being torn down.
    private static let interrupted = Mutex(false)
    /// Directories and files of the run, removed if it is interrupted.
    private static let scratch = Mutex(Set<String>())
    /// The write end of the pipe the signal handler writes to (async-signal-safe: one write).
    nonisolated(unsafe) private static var signalPipe: Int32 = -1

    /// Interrupted: the signal thread is stopping everything and ends the process; the run
    /// must neither start more nor end first (its exit would cut the clean-up short).
    private static func parkIfInterrupted() {
        while interrupted.withLock({ $0 }) { sleep(1) }
    }

    /// Records a directory (or file) to remove if the run is interrupted.
    static func removeOnInterrupt(_ directory: String) {
        scratch.withLock { _ = $0.insert(directory) }
    }

    /// Makes SIGINT and SIGTERM stop every child still running (servers, nginx, fio, curl)
    /// and remove the run's scratch directories before flare-bench exits: without this, a
    /// `kill` of flare-bench left a whole cluster and nginx running. (Ctrl-C in a terminal
    /// reached the children anyway, as they share its process group.)
    ///
    /// A handler, not SIG_IGN plus a dispatch source: an ignored signal stays ignored in the
    /// children started afterwards, and a caught one is reset to its default for them.
    public static func stopChildrenOnSignal() {
        guard signalPipe < 0 else { return }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        signalPipe = fds[1]
        let reader = fds[0]
        Thread.detachNewThread {
            var number: UInt8 = 0
            while read(reader, &number, 1) != 1 {}
            interrupted.withLock { $0 = true }
            let pids = running.withLock { $0 }
            report("\nflare-bench: signal \(number): stopping \(pids.count) child process(es)\n")
            for pid in pids { kill(pid, SIGTERM) }
            // Up to 5 s to go, then SIGKILL (a process is gone once /proc no longer shows it
            // running; a zombie waits for Foundation to reap it and counts as gone).
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline && pids.contains(where: isAlive) { usleep(20_000) }
            for pid in pids where isAlive(pid) { kill(pid, SIGKILL) }
            // rm -rf, not FileManager: the run's own clean-up may be removing the same tree
            // (its next step failed), and rm shrugs off entries that vanish under it.
            let directories = scratch.withLock { $0 }.filter { FileManager.default.fileExists(atPath: $0) }
            if !directories.isEmpty {
                let remove = Process()
                remove.executableURL = URL(fileURLWithPath: "/bin/rm")
                remove.arguments = ["-rf", "--"] + directories
                if (try? remove.run()) != nil { remove.waitUntilExit() }
            }
            // _exit: exit() would run atexit handlers and flush stdio, racing the threads
            // that are still measuring.
            _exit(128 + Int32(number))
        }
        for number in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                var byte = UInt8(truncatingIfNeeded: signal)
                _ = write(ChildProcess.signalPipe, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART  // the thread it lands on carries on undisturbed
            sigaction(number, &action, nil)
        }
    }

    /// Unbuffered, straight to stderr: stdout's buffer belongs to the progress lines.
    private static func report(_ text: String) {
        var text = text
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// Whether `pid` exists and is not a zombie whose threads are all gone (a process whose
    /// main thread has exited shows as a zombie while its I/O threads still finish).
    private static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? 0
        return !stat[close...].hasPrefix(") Z") || threads > 1
    }
}
