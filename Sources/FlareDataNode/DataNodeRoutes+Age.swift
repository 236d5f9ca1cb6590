import FlareCore
import FlareHTTP

/// `GET /chunks?older-than=SECONDS`: what the api's garbage collection asks for.
extension DataNodeRoutes {
    /// The longest age asked for: 10 years, which keeps the nanoseconds far from overflow.
    static let olderThanSecondsMax = 10 * 365 * 86400

    /// The value of `older-than` in a `/chunks` query, or why the query is refused: a
    /// malformed one is a 400, so that a typo never lists every chunk as old.
    static func olderThanSeconds(_ query: Substring) -> Result<Int, ChunkListQueryError> {
        var seconds: Int?
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == "older-than", let value = Int(parts[1]),
                  (0...olderThanSecondsMax).contains(value) else {
                return .failure(ChunkListQueryError(description: "/chunks takes only older-than=SECONDS (0…\(olderThanSecondsMax)), not '\(pair)'"))
            }
            seconds = value
        }
        guard let seconds else { return .failure(ChunkListQueryError(description: "/chunks?older-than=SECONDS: no older-than given")) }
        return .success(seconds)
    }

    /// `GET /chunks?<query>`: the ids older than the query's `older-than`, or a 400.
    func listOlder(_ query: Substring, _ store: ChunkStore, _ response: HTTPResponseWriter) async throws {
        switch Self.olderThanSeconds(query) {
        case .success(let seconds): try await listOlder(than: seconds, store, response)
        case .failure(let error): try await response.respondError(400, error.description)
        }
    }

    /// One chunk id per line, of the chunks written at least `seconds` ago by this node's
    /// clock. Ids only: the api decides from its metadata, and opening every chunk to read
    /// its footer (as the plain `/chunks` does) would cost a read per chunk for nothing.
    func listOlder(than seconds: Int, _ store: ChunkStore, _ response: HTTPResponseWriter) async throws {
        let ids: [ChunkID]
        do {
            ids = try await store.ids(olderThanSeconds: seconds)
        } catch {
            metrics.counter("flare_datanode_errors_total", ["kind": "list"]).increment()
            return try await response.respondError(error.status, error.description)
        }
        try await response.writeHead(status: 200, headers: ["Content-Type": "text/plain"], contentLength: nil)
        var text = ""
        for id in ids {
            text += "\(id)\n"
            if text.utf8.count >= 32 * 1024 {
                try await response.writeBody(text)
                text = ""
            }
        }
        if !text.isEmpty { try await response.writeBody(text) }
        try await response.finish()
    }
}

/// A `/chunks` query the data node does not understand.
struct ChunkListQueryError: Error, CustomStringConvertible {
    let description: String
}
