import FlareIO
import Foundation
import Testing

@Suite("Exclusive file locks")
struct ExclusiveFileLockTests {
    private func scratchPath() throws -> (String, () -> Void) {
        let directory = NSTemporaryDirectory() + "flare-lock-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return ("\(directory)/x.lock", { try? FileManager.default.removeItem(atPath: directory) })
    }

    @Test("a held lock is refused after the patience runs out; a released one is taken")
    func heldThenReleased() throws {
        let (path, cleanup) = try scratchPath()
        defer { cleanup() }
        var first = try #require(try ExclusiveFileLock(path: path, patienceSeconds: 0))
        #expect(try ExclusiveFileLock(path: path, patienceSeconds: 0.05) == nil)
        withExtendedLifetime(first) {}
        first = try #require(try ExclusiveFileLock(path: "\(path).other", patienceSeconds: 0))
        // Patience, not 0: a child another test is spawning holds a copy of the descriptor
        // until its exec closes it (see ExclusiveFileLock.init), as CI once caught.
        #expect(try ExclusiveFileLock(path: path, patienceSeconds: 2) != nil, "released when its holder went")
    }

    @Test("a lock released while another waits is taken within the patience")
    func releasedWhileWaiting() async throws {
        let (path, cleanup) = try scratchPath()
        defer { cleanup() }
        let holder = Holder(try #require(try ExclusiveFileLock(path: path, patienceSeconds: 0)))
        let started = ContinuousClock.now
        Thread.detachNewThread {
            usleep(200_000)
            holder.release()
        }
        let taken = try ExclusiveFileLock(path: path, patienceSeconds: 5)
        #expect(taken != nil)
        #expect(ContinuousClock.now - started >= .milliseconds(150), "taken before the holder let go")
    }

    @Test("a path that cannot be opened is an error, not 'in use'")
    func unopenable() {
        #expect(throws: FileLockError.self) { try ExclusiveFileLock(path: "/nonexistent-dir-\(UUID().uuidString)/x.lock") }
    }
}

/// Keeps a lock until `release`, from another thread.
private final class Holder: @unchecked Sendable {
    private var lock: ExclusiveFileLock?
    private let mutex = NSLock()
    init(_ lock: ExclusiveFileLock) { self.lock = lock }
    func release() { mutex.withLock { lock = nil } }
}
