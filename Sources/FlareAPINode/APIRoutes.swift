import FlareCluster
import FlareAuth
import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata
import FlareMetrics
import FlareTracing
import Logging

/// The API node's HTTP API: `/object/{key}` (PUT, POST a form upload, GET, HEAD, DELETE), `/objects`,
/// `/health`, `/metrics`, and the admin API under `/admin` (``AdminRoutes``), each behind
/// its token where one is asked for (`APIRoutes+Auth`).
struct APIRoutes: Sendable {
    let contexts: [ObjectIdentifier: LoopContext]
    let nodes: NodeDirectory
    let metadata: MetadataStore
    let admin: AdminRoutes
    let badCopies: BadCopies
    let config: APINodeConfig
    let metrics: NodeMetrics
    let engine: IOEngineKind
    /// For what happens inside a request (a bad replica); the access log is the recorder's.
    var logger = Logger(label: "api")
    /// The console's download links (`?download-url`), under a key drawn at start.
    var tickets = DownloadTickets.random()

    func handle(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let path = request.path
        let template = path.hasPrefix("/object/") ? "/object/{key}" : path.hasPrefix("/admin/buckets/") ? "/admin/buckets/…"
            : path.hasPrefix("/admin/nodes/") ? "/admin/nodes/…" : path.hasPrefix("/ui/") ? "/ui/…" : String(path)
        try await withServerSpan("\(request.method) \(template)", request, response) { _ in try await route(request, response) }
    }

    private func route(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let context = contexts[ObjectIdentifier(request.loop)]!
        let path = request.path
        if try await refusedByToken(request, response) { return }
        if path.hasPrefix("/object/") {
            let key: String
            do {
                key = try ObjectKey.decode(path.dropFirst("/object/".count))
            } catch {
                return try await response.respondError(400, "invalid key: \(error)")
            }
            metrics.gauge("flare_api_requests_in_flight").increment(by: 1)
            defer { metrics.gauge("flare_api_requests_in_flight").decrement(by: 1) }
            return try await objectRequest(key, stored: storageKey(key), context, request, response)
        }
        if path == "/ui" || path.hasPrefix("/ui/") { return try await console(request, response) }
        if path == "/admin/buckets" || path.hasPrefix("/admin/buckets/") { return try await adminBuckets(context, request, response) }
        if path == "/admin" || path.hasPrefix("/admin/") { return try await admin.handle(request, response) }
        switch (request.method, path) {
        case ("GET", "/objects"):
            try await list(request, response)
        case ("GET", "/health"), ("HEAD", "/health"):
            let body = "{\"status\":\"ok\",\"engine\":\"\(engine)\",\"dataNodes\":\(config.dataNodes.count),\"replicas\":\(config.replicas),\"nodes\":[\(nodesJSON())]}\n"
            try await response.respond(status: 200, headers: ["Content-Type": "application/json"], body: body)
        case ("GET", "/metrics"):
            metrics.gauge("flare_api_buffers_in_use", ["loop": "\(context.loop.name)"]).set(Double(context.pool.inUse))
            metrics.gauge("flare_api_buffer_waiters", ["loop": "\(context.loop.name)"]).set(Double(context.pool.waiting))
            admin.updateMetrics(metrics)
            for entry in nodes.snapshot() {
                for state in NodeState.allCases {
                    metrics.gauge("flare_api_datanode_state", ["node": "\(entry.node.id)", "state": state.rawValue]).set(entry.health.state == state ? 1 : 0)
                }
            }
            try await response.respond(status: 200, headers: ["Content-Type": "text/plain; version=0.0.4"], body: metrics.render())
        case (_, "/objects"), (_, "/health"), (_, "/metrics"):
            try await response.respondError(405, "use GET", headers: ["Allow": "GET"])
        default:
            try await response.respondError(404, "no route for \(request.method) \(path); objects live under /object/{key}")
        }
    }

    /// A request for one object: `key` as the client named it, `stored` its key in the store.
    func objectRequest(_ key: String, stored: String, _ context: LoopContext, _ request: HTTPServerRequest,
                       _ response: HTTPResponseWriter) async throws {
        switch request.method {
        case "PUT": try await put(key, stored: stored, context, request, response)
        case "POST": try await formPost(key, stored: stored, context, request, response)
        case "GET", "HEAD": try await get(key, stored: stored, context, request, response)
        case "DELETE": try await delete(key, stored: stored, request, response)
        default:
            try await response.respondError(405, "use PUT, POST (a form upload), GET, HEAD or DELETE",
                                            headers: ["Allow": "PUT, POST, GET, HEAD, DELETE"])
        }
    }

    /// The loop context of the loop a request came in on.
    func context(for loop: EventLoop) -> LoopContext { contexts[ObjectIdentifier(loop)]! }

    /// A PUT pipeline on `context`'s loop.
    func writer(_ context: LoopContext) -> ObjectWriter {
        ObjectWriter(pool: context.pool, transport: context.dataNodes, reservations: context.reservations,
                     candidates: nodes.candidates, replicas: config.replicas, metadata: metadata, metrics: metrics,
                     chunkSize: config.chunkSizeBytes, window: config.windowChunks, sizeMax: config.objectBytesMax)
    }

    private func put(_ key: String, stored: String, _ context: LoopContext, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        // Refused on the head: the body is never read (nor, with Expect, sent).
        if let length = request.headers["Content-Length"].flatMap({ Int($0) }), length > config.objectBytesMax {
            metrics.counter("flare_api_refused_total", ["reason": "too_large"]).increment()
            return try await response.respondError(413, ObjectWriteError.tooLarge(limit: config.objectBytesMax).description)
        }
        let writer = writer(context)
        let manifest: ObjectManifest
        let source = request.body
        do {
            manifest = try await writer.write(key: stored) { buffer throws(HTTPError) in try await source.readFully(into: buffer) }
        } catch {
            if case .body(let http) = error, case .connectionClosed = http { throw http }
            return try await response.respondError(error.status, error.description)
        }
        try await respondCreated(key, manifest, response)
    }

    /// `POST /object/{key}` with a `multipart/form-data` body (`curl -F file=@x`, an HTML
    /// form): the `file` field is the object, streamed through the PUT pipeline; the rest of
    /// the body must be well-formed to its closing boundary, or nothing is committed.
    private func formPost(_ key: String, stored: String, _ context: LoopContext, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let boundary: String?
        do {
            boundary = try MultipartFormDecoder.boundary(ofContentType: request.headers["Content-Type"] ?? "")
        } catch {
            return try await response.respondError(400, error.message)
        }
        guard let boundary else {
            return try await response.respondError(415, "POST /object/{key} takes a multipart/form-data body with a file field (curl -F file=@path); PUT takes the raw bytes")
        }
        // A form's body is the file plus a little framing: one past the limit by more than
        // that is refused on the head.
        if let length = request.headers["Content-Length"].flatMap({ Int($0) }),
           length > config.objectBytesMax + FormUpload.fieldsBytesMax + MultipartFormDecoder.preambleBytesMax {
            metrics.counter("flare_api_refused_total", ["reason": "too_large"]).increment()
            return try await response.respondError(413, ObjectWriteError.tooLarge(limit: config.objectBytesMax).description)
        }
        let form: FormUpload
        do {
            form = try FormUpload(body: request.body, boundary: boundary)
        } catch {
            return try await response.respondError(400, error.message)
        }
        let file: MultipartPartHead?
        do {
            file = try await form.nextFile()
        } catch {
            if case .connectionClosed = error { throw error }
            return try await response.respondError(error.status, error.description)
        }
        guard file != nil else {
            return try await response.respondError(400, "form upload: no \(FormUpload.fileField) field (send the object as -F \(FormUpload.fileField)=@path)")
        }
        let manifest: ObjectManifest
        do {
            manifest = try await writer(context).write(key: stored, attributes: {
                try await form.finish()
                return ObjectAttributes()
            }, fill: { buffer throws(HTTPError) in try await form.fill(buffer) })
        } catch {
            if case .body(let http) = error, case .connectionClosed = http { throw http }
            return try await response.respondError(error.status, error.description)
        }
        try await respondCreated(key, manifest, response)
    }

    private func respondCreated(_ key: String, _ manifest: ObjectManifest, _ response: HTTPResponseWriter) async throws {
        let body = "{\"key\":\(HTTPErrorBody.quote(key)),\"size\":\(manifest.size),\"chunks\":\(manifest.chunks.count),\"checksum\":\"\(CRC32C.headerValue(manifest.crc32c))\"}\n"
        try await response.respond(status: 201, headers: ["Content-Type": "application/json", "ETag": manifest.etag], body: body)
    }

    private func get(_ key: String, stored: String, _ context: LoopContext, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let loaded: ObjectManifest?
        do {
            loaded = try await metadata.manifest(for: stored)
        } catch {
            return try await response.respondError(500, "metadata: \(error)")
        }
        guard let manifest = loaded else { return try await response.respondError(404, "no object with key \(key)") }
        var headers: HTTPHeaders = [
            "Content-Type": "application/octet-stream",
            "ETag": manifest.etag,
            "Last-Modified": HTTPDate.string(secondsSinceEpoch: Int(manifest.createdNanoseconds / 1_000_000_000)),
            "Accept-Ranges": "bytes",
        ]
        let range: Range<Int>
        var status = 200
        switch ByteRange.resolve(request.headers["Range"], length: manifest.size) {
        case .full:
            range = 0..<manifest.size
            headers.add("X-Flare-Checksum", CRC32C.headerValue(manifest.crc32c))
        case .partial(let bytes):
            range = bytes
            status = 206
            headers.add("Content-Range", "bytes \(bytes.lowerBound)-\(bytes.upperBound - 1)/\(manifest.size)")
        case .unsatisfiable:
            return try await response.respondError(416, "range not satisfiable for an object of \(manifest.size) bytes",
                                  headers: ["Content-Range": "bytes */\(manifest.size)"])
        }
        if request.method == "HEAD" {
            return try await response.writeHead(status: status, headers: headers, contentLength: range.count)
        }
        try await streamObject(manifest, range: range, status: status, headers: headers, context, request, response) { message in
            try await response.respondError(503, message)
        }
    }

    /// Sends `range` of `manifest` as the body of a `status` answer with `headers` (for the
    /// native GET and S3's GetObject): the head goes out when the first chunk is in hand, so a
    /// failure before it is still an error answer (`failure`, given the reason); after it, the
    /// only honest signal left is a short body.
    func streamObject(_ manifest: ObjectManifest, range: Range<Int>, status: Int, headers: HTTPHeaders, _ context: LoopContext,
                      _ request: HTTPServerRequest, _ response: HTTPResponseWriter,
                      failure: (String) async throws -> Void) async throws {
        var logger = self.logger
        logger[metadataKey: "request"] = "\(request.requestID)"
        let dataNodes = context.dataNodes, nodes = self.nodes
        let badCopies = self.badCopies
        let reader = ObjectReader(pool: context.pool, transport: dataNodes, metrics: metrics, window: config.windowChunks,
                                  logger: logger, readOrder: { nodes.readOrder($0, load: dataNodes.inFlight) },
                                  onBadCopy: { badCopies.report($0.chunk, on: $0.node) })
        let contentLength = range.count
        do {
            try await reader.send(manifest, range: range, start: {
                try await response.writeHead(status: status, headers: headers, contentLength: contentLength)
            }, body: { bytes in
                try await response.writeBody(bytes)
            })
        } catch {
            guard !response.headSent else { throw error }
            if let http = error as? HTTPError { throw http }
            try await failure("\(error)")
        }
    }

    /// The body of a server-side copy of `range` of `manifest`, read on `context`'s loop into
    /// `scratch` (a buffer of its copy pool) with a GET's verification and failover.
    func copySource(_ manifest: ObjectManifest, range: Range<Int>, scratch: IOBuffer, _ context: LoopContext,
                    _ request: HTTPServerRequest) -> ObjectCopySource {
        var logger = self.logger
        logger[metadataKey: "request"] = "\(request.requestID)"
        let dataNodes = context.dataNodes, nodes = self.nodes, badCopies = self.badCopies
        return ObjectCopySource(manifest, range: range, scratch: scratch, transport: dataNodes, metrics: metrics, logger: logger,
                                readOrder: { nodes.readOrder($0, load: dataNodes.inFlight) },
                                onBadCopy: { badCopies.report($0.chunk, on: $0.node) })
    }

    private func delete(_ key: String, stored: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let removed: ObjectManifest?
        do {
            removed = try await metadata.delete(key: stored)
        } catch {
            return try await response.respondError(500, "metadata: \(error)")
        }
        guard removed != nil else { return try await response.respondError(404, "no object with key \(key)") }
        try await response.writeHead(status: 204, contentLength: nil)
    }

    /// Each data node known, with its health, as JSON objects.
    private func nodesJSON() -> String {
        nodes.snapshot().map { entry in
            let lastError = entry.health.lastFailure.map { HTTPErrorBody.quote("\($0)") } ?? "null"
            return "{\"id\":\"\(entry.node.id)\",\"address\":\(HTTPErrorBody.quote(entry.node.address)),\"zone\":\(HTTPErrorBody.quote(entry.node.zone)),"
                + "\"capacityBytes\":\(entry.node.capacityBytes),\"state\":\"\(entry.health.state.rawValue)\",\"lastError\":\(lastError)}"
        }.joined(separator: ",")
    }

    /// `GET /objects?prefix=&start-after=&limit=` → JSON page of keys.
    private func list(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        var prefix = "", startAfter: String?, limit = 1000
        let query: QueryParameters
        do {
            query = try QueryParameters(request.head.query)
        } catch {
            return try await response.respondError(400, error.description)
        }
        if let unknown = query.unknown(allowing: ["prefix", "start-after", "limit"]) {
            return try await response.respondError(400, "unknown query parameter \(unknown); use prefix, start-after, limit")
        }
        if let value = query["prefix"] { prefix = value }
        if let value = query["start-after"], !value.isEmpty { startAfter = value }
        if let value = query["limit"] {
            guard let number = Int(value), (1...1000).contains(number) else {
                return try await response.respondError(400, "limit must be 1…1000")
            }
            limit = number
        }
        let page: ObjectListing
        let bucket = storageKey("")
        do {
            page = try await metadata.list(prefix: bucket + prefix, startAfter: startAfter.map { bucket + $0 }, limit: limit)
        } catch {
            return try await response.respondError(500, "metadata: \(error)")
        }
        var body = "{\"objects\":["
        body += page.entries.map { entry in
            "{\"key\":\(HTTPErrorBody.quote(String(decoding: entry.key.utf8.dropFirst(bucket.utf8.count), as: UTF8.self))),\"size\":\(entry.size),\"etag\":\(HTTPErrorBody.quote(entry.etag)),\"lastModified\":\(HTTPErrorBody.quote(HTTPDate.string(secondsSinceEpoch: Int(entry.createdNanoseconds / 1_000_000_000))))}"
        }.joined(separator: ",")
        body += "],\"isTruncated\":\(page.nextStartAfter != nil)"
        if let next = page.nextStartAfter {
            body += ",\"nextStartAfter\":\(HTTPErrorBody.quote(String(decoding: next.utf8.dropFirst(bucket.utf8.count), as: UTF8.self)))"
        }
        body += "}\n"
        try await response.respond(status: 200, headers: ["Content-Type": "application/json"], body: body)
    }

    /// Where a native key lives in the store: in the bucket `--native-bucket`, so the S3 API
    /// sees the same objects.
    private func storageKey(_ key: String) -> String { "\(config.nativeBucket)/\(key)" }

    /// Access log line and request metrics for every exchange; object requests' latencies
    /// by method, whatever their status.
    static func recorder(metrics: NodeMetrics, logger: Logger) -> HTTPExchangeRecorder {
        HTTPExchangeRecorder(metricPrefix: "flare_api", metrics: metrics, logger: logger) { record in
            record.target.hasPrefix("/object/") ? .init("request_seconds", labels: ["method": record.method]) : nil
        }
    }
}
