import Glibc

/// An exclusive `flock` on a file, held until this object goes or the process ends (kill -9
/// included): how a process claims a data directory or a metadata file for itself.
///
/// Taking it blocks (an `open` and a sleeping retry loop): for start-up, never on a loop thread.
public final class ExclusiveFileLock: Sendable {
    public let path: String
    private let fd: Int32

    /// Opens (creating) `path` and takes the lock; `nil` when another holder keeps it for
    /// `patienceSeconds`.
    ///
    /// The patience is not for a second server, which holds the lock for good: a child that
    /// another thread of this process is spawning holds a copy of every descriptor until its
    /// exec closes it, so a lock released a moment ago can still look taken (seen in tests
    /// that close and reopen a store while other tests start processes).
    public init?(path: String, patienceSeconds: Double = 2) throws(FileLockError) {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw FileLockError(path: path, errno: errno) }
        var waitedMicroseconds = 0.0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR else {
                close(fd)
                throw FileLockError(path: path, errno: code)
            }
            guard waitedMicroseconds < patienceSeconds * 1e6 else {
                close(fd)
                return nil
            }
            usleep(10_000)
            waitedMicroseconds += 10_000
        }
    }

    deinit { close(fd) }
}

/// A lock file that could not be opened or locked for a reason other than another holder.
public struct FileLockError: Error, CustomStringConvertible {
    public let path: String
    public let errno: Int32
    public var description: String { "cannot lock \(path): \(String(cString: strerror(errno)))" }
}
