import FlareCore
import FlareIO

/// Why a chunk operation failed, each with the status the data node answers.
public enum ChunkStoreError: Error, CustomStringConvertible {
    case notFound(ChunkID)
    case alreadyExists(ChunkID)
    case checksumMismatch(expected: UInt32, actual: UInt32)
    case corrupt(ChunkID, ChunkCorruption)
    case noSpace(IOError)
    case io(IOError)
    /// Every chunk buffer of the loop is in use and the line waiting for one is full.
    case busy(BufferPoolBusy)
    /// The body source failed or ended early (client gone, timeout).
    case source(Error)

    /// The HTTP status for this failure.
    public var status: Int {
        switch self {
        case .notFound: return 404
        case .alreadyExists: return 409
        case .checksumMismatch: return 422
        case .corrupt: return 500
        case .noSpace: return 507
        case .io: return 500
        case .busy: return 503
        case .source(let error): return (error as? StatusCarrying)?.status ?? 400
        }
    }

    public var description: String {
        switch self {
        case .notFound(let id): return "chunk \(id) not found"
        case .alreadyExists(let id): return "chunk \(id) already exists (chunks are immutable)"
        case let .checksumMismatch(expected, actual):
            return "checksum mismatch: header says crc32c=\(hex8(expected)), body is crc32c=\(hex8(actual))"
        case let .corrupt(id, corruption): return "corrupt chunk \(id): \(corruption.reason)"
        case .noSpace(let error): return "insufficient storage: \(error.name) (\(error.operation))"
        case .io(let error): return "I/O error \(error.name): \(error.operation)"
        case .busy(let error): return "busy: \(error)"
        case .source(let error): return "request body: \(error)"
        }
    }

    /// Maps a runtime error: ENOSPC/EDQUOT become ``noSpace(_:)``.
    static func from(_ error: IOError) -> ChunkStoreError {
        error.kind == .noSpace ? .noSpace(error) : .io(error)
    }
}

/// An error that knows its HTTP status (the HTTP layer's errors conform in the routes).
public protocol StatusCarrying {
    var status: Int { get }
}
