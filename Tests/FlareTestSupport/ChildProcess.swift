import Foundation
import Glibc

/// A child process started by a test. Waiting never blocks a cooperative thread (there may
/// be only two): exits are reported through `terminationHandler`, bounded waits poll.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    private let lock = NSLock()
    private var exited = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Starts `executable` with `arguments`; output goes where the handles say (nowhere by default).
    public init(_ executable: String, _ arguments: [String], stdout: FileHandle? = nil, stderr: FileHandle? = nil,
         environment: [String: String]? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout ?? FileHandle.nullDevice
        process.standardError = stderr ?? FileHandle.nullDevice
        if let environment { process.environment = environment }
        process.terminationHandler = { [self] _ in
            lock.lock()
            exited = true
            let resumed = waiters
            waiters = []
            lock.unlock()
            resumed.forEach { $0.resume() }
        }
        // A child inherits the spawning thread's signal mask, and the test run's threads block
        // most signals: a shell started from here could not trap SIGINT or SIGTERM at all.
        // Spawn with the stopping signals deliverable, as from a terminal. Only those: SIGCHLD
        // stays blocked here, so no child's exit can land on this thread instead of being seen
        // by Foundation's own watch for it.
        var stopping = sigset_t(), previous = sigset_t()
        sigemptyset(&stopping)
        for number in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&stopping, number) }
        pthread_sigmask(SIG_UNBLOCK, &stopping, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    public var hasExited: Bool {
        lock.lock()
        defer { lock.unlock() }
        return exited
    }

    /// Waits for the exit (callers bound it: curl has --max-time) and returns the status.
    public func exitStatus() async -> Int32 {
        await withCheckedContinuation { continuation in
            lock.lock()
            if exited {
                lock.unlock()
                continuation.resume()
            } else {
                waiters.append(continuation)
                lock.unlock()
            }
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The exit status, or `nil` when the process is still running after `seconds`.
    public func exitStatus(within seconds: Double) async -> Int32? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while !hasExited && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard hasExited else { return nil }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Sends `signal` to this process by its pid, if it has not exited.
    public func send(_ signal: Int32) {
        guard !hasExited else { return }
        Glibc.kill(pid, signal)
    }

    /// SIGKILL without waiting, for `defer` blocks and cleanup, also when a test fails.
    /// Waiting here would block a concurrency thread, and a process in the middle of disk
    /// I/O can take seconds to die while every test of the run shares two such threads.
    /// Foundation reaps the child; use ``exitStatus(within:)`` where its exit matters.
    public func killNow() {
        send(SIGKILL)
    }
}

/// Runs a program to its end and returns its exit status and output (stdout then stderr),
/// for small outputs (cmp, head, the CLI's --help).
public func runProgram(_ executable: String, _ arguments: [String], in directory: String = NSTemporaryDirectory()) async throws
    -> (status: Int32, stdout: String, stderr: String) {
    let name = UUID().uuidString
    let outPath = "\(directory)/\(name).out", errPath = "\(directory)/\(name).err"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    defer { unlink(outPath); unlink(errPath) }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    let child = try ChildProcess(executable, arguments, stdout: out, stderr: err)
    try out.close()
    try err.close()
    let status = await child.exitStatus()
    return (status, readText(outPath), readText(errPath))
}

public func readText(_ path: String) -> String {
    String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
}

extension Sequence {
    /// `map` with an async transform, one element after the other.
    public func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
