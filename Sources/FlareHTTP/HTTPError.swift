import FlareIO

/// A failed HTTP exchange, with the status a server should answer where one applies.
public enum HTTPError: Error, Sendable, CustomStringConvertible {
    /// The peer sent something the codec refuses.
    case malformed(HTTPParseError)
    /// The peer was too slow (a head, a body piece, a response).
    case timedOut(String)
    /// The peer closed the connection in the middle of a message.
    case connectionClosed(String)
    /// A system call failed.
    case io(IOError)

    /// The status to answer: 400-class for the peer's mistakes, 408 for slowness, 502 for
    /// the rest (which happen on connections to other servers).
    public var status: Int {
        switch self {
        case .malformed(let error): return error.status
        case .timedOut: return 408
        case .connectionClosed: return 400
        case .io(let error): return error.kind == .timedOut ? 408 : 502
        }
    }

    public var description: String {
        switch self {
        case .malformed(let error): return error.message
        case .timedOut(let what): return "timed out \(what)"
        case .connectionClosed(let what): return "connection closed \(what)"
        case .io(let error): return error.description
        }
    }

    /// Maps a runtime error, turning a timeout into ``timedOut(_:)``.
    static func from(_ error: IOError, _ what: String) -> HTTPError {
        error.kind == .timedOut ? .timedOut(what) : .io(error)
    }
}
