import Glibc

/// Which I/O engine a loop runs on.
public enum IOEngineKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// io_uring when it works here, else epoll.
    case auto
    /// io_uring through liburing: completions, batched submission.
    case uring
    /// epoll readiness with nonblocking system calls; file I/O on a small thread pool.
    case epoll

    public var description: String { rawValue }

    /// Parses `auto`, `uring` or `epoll` (also `io_uring`), case-insensitively.
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "auto", "": self = .auto
        case "uring", "io_uring", "iouring": self = .uring
        case "epoll": self = .epoll
        default: return nil
        }
    }

    /// The engine named by `FLARE_IO`, or `auto` when it is unset.
    /// - Throws: ``IOEngineSelectionError`` for a value that names no engine.
    public static func fromEnvironment() throws(IOEngineSelectionError) -> IOEngineKind {
        guard let value = getenv("FLARE_IO").map({ String(cString: $0) }) else { return .auto }
        guard let kind = IOEngineKind(parsing: value) else { throw IOEngineSelectionError(value: value) }
        return kind
    }

    /// Resolves `auto` to a concrete engine by probing io_uring. The reason for falling back,
    /// when there is one, is returned so the caller can log it once.
    public func resolved() -> (kind: IOEngineKind, fallbackReason: String?) {
        switch self {
        case .uring, .epoll: return (self, nil)
        case .auto:
            if let reason = IOUringEngine.unavailableReason() { return (.epoll, reason) }
            return (.uring, nil)
        }
    }
}


/// `FLARE_IO` or `--io` named no engine.
public struct IOEngineSelectionError: Error, CustomStringConvertible {
    public let value: String
    public var description: String { "unknown I/O engine '\(value)': use auto, uring or epoll" }
}
