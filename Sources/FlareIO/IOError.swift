#if canImport(Glibc)
import Glibc
#endif

/// A failed system call or io_uring operation, with the errno and what was being done.
///
/// The runtime maps every negative result through this one type so callers can switch on
/// ``kind`` instead of comparing raw errno values.
public struct IOError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What an errno means to a caller of the runtime.
    public enum Kind: Equatable, Sendable {
        case connectionReset
        case brokenPipe
        case connectionRefused
        case noSpace
        case timedOut
        case cancelled
        case notFound
        case alreadyExists
        case invalidArgument
        case other
    }

    /// The positive errno value.
    public let errno: Int32
    /// The operation that failed, e.g. `recv` or `open /data/chunks/ab/…`.
    public let operation: String

    /// Creates an error from a positive errno value.
    public init(errno: Int32, operation: String) {
        self.errno = errno
        self.operation = operation
    }

    /// The errno's symbolic name, such as `ECONNRESET`.
    public var name: String { Errno.name(errno) }

    /// The class of failure, for callers that handle a few cases specially.
    public var kind: Kind {
        switch errno {
        case ECONNRESET: return .connectionReset
        case EPIPE: return .brokenPipe
        case ECONNREFUSED: return .connectionRefused
        case ENOSPC, EDQUOT: return .noSpace
        case ETIMEDOUT, ETIME: return .timedOut
        case ECANCELED: return .cancelled
        case ENOENT: return .notFound
        case EEXIST: return .alreadyExists
        case EINVAL: return .invalidArgument
        default: return .other
        }
    }

    public var description: String { "\(operation): \(name) (\(String(cString: strerror(errno))))" }
}

/// Errno helpers shared by both engines.
public enum Errno {
    /// Symbolic name of an errno value; falls back to `errno N`.
    public static func name(_ value: Int32) -> String {
        switch value {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case EINTR: return "EINTR"
        case EIO: return "EIO"
        case EBADF: return "EBADF"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case EACCES: return "EACCES"
        case EFAULT: return "EFAULT"
        case EBUSY: return "EBUSY"
        case EEXIST: return "EEXIST"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case EINVAL: return "EINVAL"
        case EMFILE: return "EMFILE"
        case ENFILE: return "ENFILE"
        case EFBIG: return "EFBIG"
        case ENOSPC: return "ENOSPC"
        case EROFS: return "EROFS"
        case EPIPE: return "EPIPE"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        case ENOSYS: return "ENOSYS"
        case ENOTEMPTY: return "ENOTEMPTY"
        case ETIME: return "ETIME"
        case ENOTSOCK: return "ENOTSOCK"
        case EOPNOTSUPP: return "EOPNOTSUPP"
        case EADDRINUSE: return "EADDRINUSE"
        case EADDRNOTAVAIL: return "EADDRNOTAVAIL"
        case ENETUNREACH: return "ENETUNREACH"
        case ECONNABORTED: return "ECONNABORTED"
        case ECONNRESET: return "ECONNRESET"
        case ENOTCONN: return "ENOTCONN"
        case ETIMEDOUT: return "ETIMEDOUT"
        case ECONNREFUSED: return "ECONNREFUSED"
        case EHOSTUNREACH: return "EHOSTUNREACH"
        case EALREADY: return "EALREADY"
        case EINPROGRESS: return "EINPROGRESS"
        case EDQUOT: return "EDQUOT"
        case ECANCELED: return "ECANCELED"
        default: return "errno \(value)"
        }
    }

    /// Turns a raw result (negative errno on failure) into a count or a thrown ``IOError``.
    @inline(__always)
    public static func check(_ result: Int32, _ operation: @autoclosure () -> String) throws(IOError) -> Int {
        if result < 0 { throw IOError(errno: -result, operation: operation()) }
        return Int(result)
    }
}
