import FlareAuth
import FlareCore
import FlareHTTP
import FlareMetadata

/// The web console (`/ui`: a page, a script and a style sheet compiled into the binary) and
/// the admin API it browses buckets with:
///
/// - `GET /admin/buckets`: every bucket, the native API's marked.
/// - `GET /admin/buckets/{b}/objects?prefix=&delimiter=&start-after=&limit=`: a page of keys,
///   keys sharing the delimiter after the prefix rolled into `prefixes` (as S3 lists).
/// - `GET|HEAD|PUT|POST|DELETE /admin/buckets/{b}/object/{key}`: the native object API on
///   any bucket (POST: a form upload, what the page sends).
/// - `GET /admin/buckets/{b}/object/{key}?download-url`: `{"url","expiresInSeconds"}`, a link
///   to that object that needs no token for 5 minutes (``DownloadTickets``): the page's
///   downloads go by it, straight to disk.
///
/// The page itself is open (it holds no data); everything it shows comes from `/health`,
/// `/metrics` and `/admin/…`, the last behind the admin token as for the CLI.
extension APIRoutes {
    /// The console's files, by path.
    static let consoleFiles: [String: (contentType: String, body: String)] = [
        "/ui/": ("text/html; charset=utf-8", String(decoding: PackageResources.index_html, as: UTF8.self)),
        "/ui/app.js": ("text/javascript; charset=utf-8", String(decoding: PackageResources.app_js, as: UTF8.self)),
        "/ui/style.css": ("text/css; charset=utf-8", String(decoding: PackageResources.style_css, as: UTF8.self)),
    ]

    func console(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        guard request.method == "GET" || request.method == "HEAD" else {
            return try await response.respondError(405, "use GET", headers: ["Allow": "GET, HEAD"])
        }
        let path = request.path == "/ui" || request.path == "/ui/index.html" ? "/ui/" : String(request.path)
        guard let file = Self.consoleFiles[path] else {
            return try await response.respondError(404, "no console file \(request.path); the console is at /ui/")
        }
        if request.path == "/ui" { return try await response.respond(status: 308, headers: ["Location": "/ui/"]) }
        // Same-origin everything: no inline script, no framing, no content sniffing.
        try await response.respond(status: 200, headers: [
            "Content-Type": file.contentType, "Cache-Control": "no-cache",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
        ], body: file.body)
    }

    func adminBuckets(_ context: LoopContext, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let parts = request.path.split(separator: "/", maxSplits: 5, omittingEmptySubsequences: false).dropFirst(3)  // "", "admin", "buckets"
        guard let name = parts.first else {
            guard request.method == "GET" else { return try await response.respondError(405, "use GET", headers: ["Allow": "GET"]) }
            return try await listBuckets(response)
        }
        let bucket = decodedSegment(name)
        let known: BucketInfo?
        do {
            known = try await metadata.bucket(bucket)
        } catch {
            return try await response.respondError(500, "metadata: \(error)")
        }
        guard known != nil else { return try await response.respondError(404, "no bucket \(bucket)") }
        let rest = Array(parts.dropFirst())
        switch rest.first {
        case "objects" where rest.count == 1:
            guard request.method == "GET" else { return try await response.respondError(405, "use GET", headers: ["Allow": "GET"]) }
            try await listObjects(bucket, request, response)
        case "object" where rest.count == 2 && !rest[1].isEmpty:
            let key: String
            do {
                key = try ObjectKey.decode(rest[1])
            } catch {
                return try await response.respondError(400, "invalid key: \(error)")
            }
            if request.method == "GET", request.head.query == "download-url" {
                // A link the browser can follow without the token (DownloadTickets).
                let url = "\(request.path)?" + tickets.query(path: request.path, now: Int(wallClockNanoseconds() / 1_000_000_000))
                return try await response.respond(status: 200, headers: ["Content-Type": "application/json", "Cache-Control": "no-store"],
                                                  body: "{\"url\":\(HTTPErrorBody.quote(url)),\"expiresInSeconds\":\(DownloadTickets.lifetimeSeconds)}\n")
            }
            try await objectRequest(key, stored: "\(bucket)/\(key)", context, request, response)
        default:
            try await response.respondError(404, "no route for \(request.method) \(request.path); see /admin/buckets/{bucket}/objects and …/object/{key}")
        }
    }

    private func listBuckets(_ response: HTTPResponseWriter) async throws {
        let buckets: [BucketInfo]
        do {
            buckets = try await metadata.buckets()
        } catch {
            return try await response.respondError(500, "metadata: \(error)")
        }
        let entries = buckets.map { bucket in
            "{\"name\":\(HTTPErrorBody.quote(bucket.name)),\"createdAt\":\(HTTPErrorBody.quote(HTTPDate.string(secondsSinceEpoch: Int(bucket.createdNanoseconds / 1_000_000_000)))),"
                + "\"publicRead\":\(bucket.publicRead),\"native\":\(bucket.name == config.nativeBucket)}"
        }
        try await response.respond(status: 200, headers: ["Content-Type": "application/json"], body: "{\"buckets\":[\(entries.joined(separator: ","))]}\n")
    }

    private func listObjects(_ bucket: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let query: QueryParameters
        do {
            query = try QueryParameters(request.head.query)
        } catch {
            return try await response.respondError(400, error.description)
        }
        if let unknown = query.unknown(allowing: ["prefix", "delimiter", "start-after", "limit"]) {
            return try await response.respondError(400, "unknown query parameter \(unknown); use prefix, delimiter, start-after, limit")
        }
        var limit = 1000
        if let value = query["limit"] {
            guard let number = Int(value), (1...1000).contains(number) else { return try await response.respondError(400, "limit must be 1…1000") }
            limit = number
        }
        let listing: DelimitedListing
        do {
            listing = try await DelimitedListing.scan(metadata, bucket: bucket, prefix: query["prefix"] ?? "",
                                                      delimiter: query["delimiter"].flatMap { $0.isEmpty ? nil : $0 },
                                                      after: query["start-after"].flatMap { $0.isEmpty ? nil : $0 }, maxKeys: limit)
        } catch {
            return try await response.respondError(500, "metadata: \(error)")
        }
        var body = "{\"objects\":["
        body += listing.contents.map { entry in
            "{\"key\":\(HTTPErrorBody.quote(entry.key)),\"size\":\(entry.size),\"etag\":\(HTTPErrorBody.quote(entry.etag)),"
                + "\"lastModified\":\(HTTPErrorBody.quote(HTTPDate.string(secondsSinceEpoch: Int(entry.createdNanoseconds / 1_000_000_000))))}"
        }.joined(separator: ",")
        body += "],\"prefixes\":[\(listing.prefixes.map(HTTPErrorBody.quote).joined(separator: ","))],\"isTruncated\":\(listing.truncated)"
        if let next = listing.last { body += ",\"nextStartAfter\":\(HTTPErrorBody.quote(next))" }
        body += "}\n"
        try await response.respond(status: 200, headers: ["Content-Type": "application/json"], body: body)
    }

    /// A bucket name from a path segment, percent-decoded (bucket names never need it; a
    /// client may still escape them).
    private func decodedSegment(_ segment: Substring) -> String {
        (try? ObjectKey.decode(segment)) ?? String(segment)
    }
}
