import FlareHTTP
import FlareIO
import FlareMetadata

/// Why an upload failed, with the status to answer.
enum ObjectWriteError: Error, Sendable, CustomStringConvertible {
    /// The client's body failed: gone, too slow, malformed.
    case body(HTTPError)
    /// No data node could take a chunk.
    case storage(ChunkUnavailable)
    /// Every chunk buffer of the loop is in use and the line waiting for one is full.
    case busy(BufferPoolBusy)
    /// The metadata store failed: the manifest could not be committed, or chunk ids not
    /// reserved.
    case metadata(String, Error)
    /// What arrived was refused before the commit (a digest that does not match): the caller's
    /// error, answered as the caller says.
    case refused(Error & Sendable)
    /// The body is larger than `--max-object-size`.
    case tooLarge(limit: Int)

    var status: Int {
        switch self {
        case .body(let error): return error.status
        case .storage, .busy: return 503
        case .metadata(_, let error):
            if error is BucketMissing { return 404 }
            return error is MetadataBusy || error is NodeRemoved ? 503 : 500
        case .refused(let error): return (error as? HTTPError)?.status ?? 400
        case .tooLarge: return 413
        }
    }

    var description: String {
        switch self {
        case .body(let error): return "request body: \(error)"
        case .storage(let error): return "\(error)"
        case .busy(let error): return "busy: \(error)"
        case .metadata(let what, let error): return "metadata: \(what) failed: \(error)"
        case .refused(let error): return "\(error)"
        case .tooLarge(let limit): return "the object is larger than this server's --max-object-size (\(limit) bytes)"
        }
    }
}
