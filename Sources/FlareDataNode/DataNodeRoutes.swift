import FlareCore
import FlareHTTP
import FlareIO
import FlareMetrics
import FlareTracing
import Logging

extension HTTPError: StatusCarrying {}

/// The data node's HTTP API: `/chunk/{id}` (PUT, GET, HEAD, DELETE), `/chunks`,
/// `/chunks/corrupt`, `/health`, `/metrics`. Each request uses the chunk store of the loop it
/// arrived on. Every route but `/health` (and `/metrics`) needs a request signed with the
/// cluster secret when the node has one (`DataNodeRoutes+Auth`).
struct DataNodeRoutes: Sendable {
    let stores: [ObjectIdentifier: ChunkStore]
    let config: DataNodeConfig
    let metrics: NodeMetrics
    let engine: IOEngineKind
    let nodeID: NodeID
    let capacityBytes: Int

    /// For refusals; the access log is the recorder's.
    let logger: Logger

    func handle(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let template = request.path.hasPrefix("/chunk/") ? "/chunk/{id}" : String(request.path)
        try await withServerSpan("\(request.method) \(template)", request, response) { span in
            if span.isRecording, request.path.hasPrefix("/chunk/") { span.attributes["flare.chunk"] = String(request.path.dropFirst("/chunk/".count)) }
            try await route(request, response)
        }
    }

    private func route(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let path = request.path
        if let refusal = authRefusal(request) { return try await refuse(refusal, request, response) }
        if !isOpen(path), let refusal = wrongNode(request) { return try await response.respondError(409, refusal) }
        let store = stores[ObjectIdentifier(request.loop)]!
        if path.hasPrefix("/chunk/") {
            guard let id = ChunkID(path.dropFirst("/chunk/".count)) else {
                return try await response.respondError(400, "chunk ids are exactly 32 lowercase hex characters")
            }
            switch request.method {
            case "PUT": try await put(id, store, request, response)
            case "GET", "HEAD": try await get(id, store, request, response)
            case "DELETE": try await delete(id, store, request, response)
            default: try await response.respondError(405, "use PUT, GET, HEAD or DELETE", headers: ["Allow": "PUT, GET, HEAD, DELETE"])
            }
            return
        }
        switch (request.method, path) {
        case ("GET", "/health"), ("HEAD", "/health"):
            try await health(store, response)
        case ("GET", "/metrics"):
            await refreshGauges(store)
            try await response.respond(status: 200, headers: ["Content-Type": "text/plain; version=0.0.4"], body: metrics.render())
        case ("GET", "/chunks"):
            if let query = request.head.query, !query.isEmpty { try await listOlder(query, store, response) } else { try await list(store, response) }
        case ("GET", "/chunks/corrupt"):
            try await response.respond(status: 200, headers: ["Content-Type": "application/json"], body: store.quarantine.json())
        case (_, "/health"), (_, "/metrics"), (_, "/chunks"), (_, "/chunks/corrupt"):
            try await response.respondError(405, "use GET", headers: ["Allow": "GET"])
        default:
            try await response.respondError(404, "no route for \(request.method) \(path)")
        }
    }

    /// `{"status","engine","directIO","id","zone","capacityBytes","usedBytes","availableBytes","scrub"}`:
    /// who this node is, how full, and where its scrubber is, for the api's node table,
    /// placement weights and the console.
    /// `availableBytes` (free space on the file system) is left out when `statvfs` fails.
    private func health(_ store: ChunkStore, _ response: HTTPResponseWriter) async throws {
        var body = "{\"status\":\"ok\",\"engine\":\"\(engine)\",\"directIO\":\(store.usesDirectIO)"
        // The zone needs no escaping: NodeZone admits only letters, digits, dot, dash and underscore.
        body += ",\"id\":\"\(nodeID)\",\"zone\":\"\(config.zone)\",\"capacityBytes\":\(capacityBytes),\"usedBytes\":\(store.stats.bytesStored)"
        do {
            let available = try await FileSystem.availableBytes(in: config.dataDirectory, on: store.loop)
            body += ",\"availableBytes\":\(available)"
        } catch {
            metrics.counter("flare_datanode_errors_total", ["kind": "io_\(error.name)"]).increment()
        }
        // The scrubber's progress: the console shows it through the api.
        let scrub = store.stats.scrub
        body += ",\"scrub\":{\"checked\":\(scrub.checked),\"total\":\(scrub.total),\"passes\":\(scrub.passes),\"quarantined\":\(store.quarantine.count)"
        if let end = scrub.lastPassEndSeconds { body += ",\"lastPassEndSeconds\":\(Int(end))" }
        body += "}}\n"
        try await response.respond(status: 200, headers: ["Content-Type": "application/json"], body: body)
    }

    private func put(_ id: ChunkID, _ store: ChunkStore, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        guard let length = request.body.contentLength else {
            return try await response.respondError(411, "PUT /chunk needs a Content-Length")
        }
        guard length <= config.chunkSizeMaxBytes else {
            return try await response.respondError(413, "chunk of \(length) bytes is larger than --chunk-size-max \(config.chunkSizeMaxBytes)")
        }
        guard let header = request.headers["X-Flare-Checksum"], let expected = CRC32C.parseHeaderValue(header) else {
            return try await response.respondError(400, "X-Flare-Checksum: crc32c=<8 hex> is required")
        }
        guard await !store.exists(id) else {
            return try await response.respondError(409, "chunk \(id) already exists (chunks are immutable)")
        }
        let footer: ChunkFooter
        do {
            footer = try await store.put(id: id, length: length, expectedCRC: expected) { buffer in
                try await request.body.readFully(into: buffer)
            }
        } catch {
            // A client that vanished or stalled: the server answers (or closes) by the HTTP error.
            if case .source(let source) = error, let http = source as? HTTPError { throw http }
            metrics.counter("flare_datanode_errors_total", ["kind": errorKind(error)]).increment()
            return try await response.respondError(error.status, error.description)
        }
        let body = "{\"id\":\"\(id)\",\"length\":\(footer.length),\"crc32c\":\"\(hex8(footer.crc32c))\"}\n"
        try await response.respond(status: 201, headers: ["Content-Type": "application/json"], body: body)
    }

    private func get(_ id: ChunkID, _ store: ChunkStore, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        // Where the body will start, so the open reads that segment with the footer. The length
        // is not known yet: a suffix range resolves past any chunk and prefetches nothing.
        var streamStart: Int?
        if request.method == "GET" {
            switch ByteRange.resolve(request.headers["Range"], length: Int.max) {
            case .full: streamStart = 0
            case .partial(let bytes): streamStart = bytes.lowerBound
            case .unsatisfiable: streamStart = nil
            }
        }
        let reader: ChunkReader
        do {
            reader = try await store.open(id, prefetchAt: streamStart)
        } catch {
            if error.status >= 500 { metrics.counter("flare_datanode_errors_total", ["kind": errorKind(error)]).increment() }
            return try await response.respondError(error.status, error.description)
        }
        let length = reader.footer.length
        var headers: HTTPHeaders = [
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "X-Flare-Checksum": CRC32C.headerValue(reader.footer.crc32c),
        ]
        let range: Range<Int>
        let status: Int
        switch ByteRange.resolve(request.headers["Range"], length: length) {
        case .full:
            range = 0..<length
            status = 200
        case .partial(let bytes):
            range = bytes
            status = 206
            headers.add("Content-Range", "bytes \(bytes.lowerBound)-\(bytes.upperBound - 1)/\(length)")
        case .unsatisfiable:
            await reader.close()
            return try await response.respondError(416, "range not satisfiable for a chunk of \(length) bytes",
                                  headers: ["Content-Range": "bytes */\(length)"])
        }
        if request.method == "HEAD" {
            await reader.close()
            return try await response.writeHead(status: status, headers: headers, contentLength: range.count)
        }
        do {
            try await reader.stream(range, start: {
                try await response.writeHead(status: status, headers: headers, contentLength: range.count)
            }, send: { bytes in
                try await response.writeBody(bytes)
            })
            await reader.close()
        } catch {
            await reader.close()
            if case .source(let source) = error { throw source }
            metrics.counter("flare_datanode_errors_total", ["kind": errorKind(error)]).increment()
            // Bytes already sent cannot be taken back: the thrown error closes the connection
            // and the client sees a short body.
            guard !response.headSent else { throw error }
            try await response.respondError(error.status, error.description)
        }
    }

    /// Deletes the stored copy and the quarantined copy of a chunk, whichever there are: the
    /// api deletes a corrupt copy (listed by `/chunks/corrupt`) once it has repaired it
    /// elsewhere, and may meanwhile have stored a good one here. 204 when either went, 404
    /// when there was neither.
    private func delete(_ id: ChunkID, _ store: ChunkStore, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        var deleted = false
        do {
            try await store.delete(id)
            deleted = true
        } catch .notFound {
            deleted = false
        } catch {
            return try await response.respondError(error.status, error.description)
        }
        do {
            if try await store.deleteQuarantined(id) { deleted = true }
        } catch {
            metrics.counter("flare_datanode_errors_total", ["kind": errorKind(error)]).increment()
            return try await response.respondError(error.status, error.description)
        }
        guard deleted else { return try await response.respondError(404, ChunkStoreError.notFound(id).description) }
        try await response.writeHead(status: 204, contentLength: nil)
    }

    /// `id length` per line, for the chunks stored (quarantined ones are not: see
    /// `/chunks/corrupt`). A chunk whose footer fails its checks here is quarantined and left
    /// out; `id corrupt: reason` only for one that could not be moved, `id unreadable: error`
    /// for one that could not be read.
    private func list(_ store: ChunkStore, _ response: HTTPResponseWriter) async throws {
        let ids: [ChunkID]
        do {
            ids = try await store.ids()
        } catch {
            metrics.counter("flare_datanode_errors_total", ["kind": errorKind(error)]).increment()
            return try await response.respondError(error.status, error.description)
        }
        try await response.writeHead(status: 200, headers: ["Content-Type": "text/plain"], contentLength: nil)
        var text = ""
        for id in ids {
            do {
                let reader = try await store.open(id)
                text += "\(id) \(reader.footer.length)\n"
                await reader.close()
            } catch {
                switch error {
                case .notFound: continue  // deleted while listing
                case .corrupt where store.quarantine.contains(id): continue
                case .corrupt(_, let corruption): text += "\(id) corrupt: \(corruption.reason)\n"
                default: text += "\(id) unreadable: \(error)\n"
                }
            }
            if text.utf8.count >= 32 * 1024 {
                try await response.writeBody(text)
                text = ""
            }
        }
        if !text.isEmpty { try await response.writeBody(text) }
        try await response.finish()
    }

    private func errorKind(_ error: ChunkStoreError) -> String {
        switch error {
        case .notFound: return "not_found"
        case .alreadyExists: return "exists"
        case .checksumMismatch: return "checksum_mismatch"
        case .corrupt: return "corrupt"
        case .noSpace: return "no_space"
        case .io(let io): return "io_\(io.name)"
        case .busy: return "busy"
        case .source: return "client"
        }
    }

    private func refreshGauges(_ store: ChunkStore) async {
        do {
            let available = try await FileSystem.availableBytes(in: config.dataDirectory, on: store.loop)
            metrics.gauge("flare_datanode_free_bytes").set(Double(available))
        } catch {
            // The gauge keeps its last value; the failure is counted rather than hidden.
            metrics.counter("flare_datanode_errors_total", ["kind": "io_\(error.name)"]).increment()
        }
        metrics.gauge("flare_datanode_buffers_in_use", ["loop": "\(store.loop.name)"]).set(Double(store.pool.inUse))
        if let verifier = config.requestVerifier { metrics.gauge("flare_datanode_auth_nonces").set(Double(verifier.noncesHeld)) }
    }

    /// Access log line and request metrics for every exchange: how long stored and served
    /// chunks took, and the failures, by status.
    static func recorder(metrics: NodeMetrics, logger: Logger) -> HTTPExchangeRecorder {
        HTTPExchangeRecorder(metricPrefix: "flare_datanode", metrics: metrics, logger: logger, countsErrors: true) { record in
            guard record.target.hasPrefix("/chunk/") && record.status / 100 == 2 else { return nil }
            switch record.method {
            case "PUT": return .init("write_seconds")
            case "GET": return .init("read_seconds")
            default: return nil
            }
        }
    }
}
