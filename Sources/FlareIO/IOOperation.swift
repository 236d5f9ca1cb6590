import CLiburing

/// One operation for an engine, as plain values: no allocation, no retained objects.
///
/// Pointers must stay valid until the operation's completion is delivered; the awaiting
/// task keeps its buffer and descriptor alive for exactly that long (see `EventLoop.perform`).
public enum IOOperation: @unchecked Sendable {
    case nop
    case recv(fd: Int32, buffer: UnsafeMutableRawPointer, count: Int)
    case send(fd: Int32, buffer: UnsafeRawPointer, count: Int)
    case accept(fd: Int32)
    case connect(fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t)
    case shutdown(fd: Int32, how: Int32)
    case close(fd: Int32)
    case read(fd: Int32, buffer: UnsafeMutableRawPointer, count: Int, offset: UInt64)
    case write(fd: Int32, buffer: UnsafeRawPointer, count: Int, offset: UInt64)
    case fsync(fd: Int32, dataOnly: Bool)
    case openat(dirfd: Int32, path: UnsafePointer<CChar>, flags: Int32, mode: mode_t)
    /// `flags` as for renameat2, e.g. `RENAME_NOREPLACE` (``IOOperation/renameNoReplace``).
    case renameat(oldDirfd: Int32, oldPath: UnsafePointer<CChar>, newDirfd: Int32, newPath: UnsafePointer<CChar>, flags: UInt32 = 0)
    case unlinkat(dirfd: Int32, path: UnsafePointer<CChar>, flags: Int32)
    /// `statx` into `buffer` (``FileSystem/statxBytes`` bytes, alive until completion).
    case statx(dirfd: Int32, path: UnsafePointer<CChar>, flags: Int32, mask: UInt32, buffer: UnsafeMutableRawPointer)
    case mkdirat(dirfd: Int32, path: UnsafePointer<CChar>, mode: mode_t)
    /// Completes after the given time; the result is 0 when the time ran out.
    case sleep(nanoseconds: UInt64)

    /// renameat2's RENAME_NOREPLACE: fail with EEXIST instead of replacing the target.
    public static let renameNoReplace: UInt32 = flare_RENAME_NOREPLACE

    /// `AT_FDCWD`, for the `dirfd` of path operations: paths relative to the working
    /// directory (absolute paths ignore it). Glibc does not export it to Swift.
    public static let currentDirectory: Int32 = flare_AT_FDCWD

    /// Whether the operation acts on a socket and so can wait for readiness in the epoll engine.
    var isSocketReadiness: Bool {
        switch self {
        case .recv, .send, .accept, .connect: return true
        default: return false
        }
    }

    /// The name used in error messages.
    public var name: String {
        switch self {
        case .nop: return "nop"
        case .recv: return "recv"
        case .send: return "send"
        case .accept: return "accept"
        case .connect: return "connect"
        case .shutdown: return "shutdown"
        case .close: return "close"
        case .read: return "read"
        case .write: return "write"
        case .fsync(_, let dataOnly): return dataOnly ? "fdatasync" : "fsync"
        case .openat: return "open"
        case .renameat: return "rename"
        case .unlinkat: return "unlink"
        case .statx: return "stat"
        case .mkdirat: return "mkdir"
        case .sleep: return "sleep"
        }
    }
}

/// A finished operation: its token and the raw result (negative errno on failure).
struct IOCompletion {
    var token: UInt64
    var result: Int32
}
