import Foundation
import Testing

/// Marks a child process's exit, so a test awaits it without blocking one of the few
/// cooperative threads (a blocked pool starves every other test running in parallel).
final class ExitSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var exited = false
    private var waiter: CheckedContinuation<Void, Never>?

    /// Starts `process`, reporting its exit here.
    init(running process: Process) throws {
        process.terminationHandler = { [self] _ in fire() }
        try process.run()
    }

    private func fire() {
        lock.lock()
        exited = true
        let waiter = waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume()
    }

    /// Returns once the process has exited.
    func wait() async {
        await withCheckedContinuation { continuation in
            lock.lock()
            if exited {
                lock.unlock()
                continuation.resume()
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}

/// Runs a program to the end and returns its exit status and output (stdout and stderr).
@discardableResult
func runProgram(_ path: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = pipe
    process.standardError = pipe
    let exit = try ExitSignal(running: process)
    // The programs run here (cmp, mount) print a line or two: the pipe never fills.
    await exit.wait()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

/// Whether two files hold the same bytes, by `cmp`.
func sameBytes(_ a: String, _ b: String) async throws -> Bool {
    let result = try await runProgram("/usr/bin/cmp", [a, b])
    if result.status > 1 { Issue.record("cmp \(a) \(b) failed: \(result.output)") }
    return result.status == 0
}

extension Sequence {
    /// `map` with an async transform, one element after the other.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
