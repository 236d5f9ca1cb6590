import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata
import FlareS3
import Foundation

/// S3's API on a listener of its own (`--s3-port`), over the same PUT and GET pipelines as
/// the native `/object` API: buckets (ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
/// GetBucketLocation, GetBucketVersioning) and objects (PutObject, GetObject with one Range,
/// HeadObject, DeleteObject, ListObjectsV2 and v1). Every request is signed (SigV4 header or
/// presigned, SigV2 presigned); anonymous ones are refused. A bucket `b`'s object `k` is the
/// store's key `b/k`, so the native API's bucket (`--native-bucket`) is seen by both.
///
/// Multipart uploads: Create, UploadPart (any order, a part re-sent replaces it), Complete (a
/// metadata operation: the parts' chunk lists become the object's), Abort, ListParts,
/// ListMultipartUploads.
///
/// DeleteObjects (`POST ?delete`) too.
///
/// Payloads whole (a hex SHA-256 or UNSIGNED-PAYLOAD) or aws-chunked (signed chunks, and
/// trailers with the checksum).
///
/// Not built yet (answered 501 NotImplemented): UploadPartCopy, CopyObject.
struct S3Routes: Sendable {
    let objects: APIRoutes
    let credentials: S3Credentials
    /// For virtual-host-style addressing (`<bucket>.<baseDomain>`); nil: path style only.
    let baseDomain: String?
    /// Request bodies read whole (CreateBucketConfiguration) at most.
    static let xmlBodyBytesMax = 64 * 1024
    static let owner = S3Owner(id: "flare", displayName: "flare")

    private var metadata: MetadataStore { objects.metadata }

    func handle(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        do {
            try await route(request, response)
        } catch let error as S3Error {
            guard !response.headSent else { throw error }
            try await send(error, request, response)
        }
    }

    private func send(_ error: S3Error, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let body = request.method == "HEAD" ? "" : error.xml(resource: String(request.path), requestID: request.requestID)
        try await response.respond(status: error.status, headers: ["Content-Type": "application/xml", "x-amz-request-id": request.requestID],
                                   body: body)
    }

    private func route(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let head = S3RequestHead(method: request.method, target: request.head.target, headers: request.headers.fields)
        let authentication: S3Authentication
        do {
            guard let verified = try S3Auth.verify(head, credentials: credentials, now: Date(), baseDomain: baseDomain) else {
                throw S3Error.accessDenied("anonymous requests are refused: sign with one of the --s3-credentials keys")
            }
            authentication = verified
        }
        let address = try S3Address.parse(target: String(request.path), host: request.headers["Host"], baseDomain: baseDomain)
        let query: QueryParameters
        do {
            query = try QueryParameters(request.head.query)
        } catch {
            throw S3Error.invalidArgument(error.description)
        }
        guard let bucket = address.bucket else {
            guard request.method == "GET" else { throw S3Error.methodNotAllowed() }
            return try await listBuckets(request, response)
        }
        // No bucket of another name exists (CreateBucket refuses them): this keeps `.mpu/…`
        // parts and `a%2Fb`-style aliases out of reach.
        guard S3BucketName.isValid(bucket) else {
            throw request.method == "PUT" && address.key == nil ? S3Error.invalidBucketName() : S3Error.noSuchBucket()
        }
        guard let key = address.key, !key.isEmpty else { return try await bucketRequest(bucket, query, request, response) }
        if query["acl"] != nil {
            guard request.method == "GET" else { throw S3Error.notImplemented("ACLs cannot be changed: every request is signed by a key holder") }
            _ = try await getObjectManifest(bucket, key)
            return try await xml(S3XML.accessControlPolicy(owner: Self.owner), request, response)
        }
        for unsupported in ["tagging", "versionId", "retention", "legal-hold", "torrent", "attributes"] where query[unsupported] != nil {
            throw S3Error.notImplemented("?\(unsupported) is not implemented by Flare yet")
        }
        if query["uploads"] != nil {
            guard request.method == "POST" else { throw S3Error.methodNotAllowed() }
            return try await createUpload(bucket, key, request, response)
        }
        if let uploadID = query["uploadId"] {
            switch request.method {
            case "PUT":
                if request.headers["x-amz-copy-source"] != nil { throw S3Error.notImplemented("UploadPartCopy is not implemented by Flare yet") }
                return try await uploadPart(bucket, key, uploadID, query, authentication, request, response)
            case "POST": return try await completeUpload(bucket, key, uploadID, request, response)
            case "DELETE": return try await abortUpload(uploadID, request, response)
            case "GET": return try await listParts(bucket, key, uploadID, request, response)
            default: throw S3Error.methodNotAllowed()
            }
        }
        switch request.method {
        case "PUT":
            if request.headers["x-amz-copy-source"] != nil { throw S3Error.notImplemented("CopyObject is not implemented by Flare yet") }
            try await putObject(bucket, key, authentication, request, response)
        case "GET", "HEAD": try await getObject(bucket, key, request, response)
        case "DELETE":
            try await requireBucket(bucket)
            do {
                _ = try await metadata.delete(key: "\(bucket)/\(key)")
            } catch {
                throw S3Error.internalError("metadata: \(error)")
            }
            try await response.writeHead(status: 204, headers: ["x-amz-request-id": request.requestID], contentLength: nil)
        default: throw S3Error.methodNotAllowed()
        }
    }

    // MARK: - Buckets

    private func listBuckets(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let buckets: [BucketInfo]
        do {
            buckets = try await metadata.buckets()
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        try await xml(S3XML.listAllMyBuckets(owner: Self.owner, buckets: buckets.map {
            S3BucketEntry(name: $0.name, creationDate: Date(nanoseconds: $0.createdNanoseconds))
        }), request, response)
    }

    private func bucketRequest(_ bucket: String, _ query: QueryParameters, _ request: HTTPServerRequest,
                               _ response: HTTPResponseWriter) async throws {
        switch request.method {
        case "PUT":
            guard S3BucketName.isValid(bucket) else { throw S3Error.invalidBucketName() }
            let body = try await readSmallBody(request)
            _ = try S3XML.parseCreateBucketConfiguration(body)
            let created: Bool
            do {
                created = try await metadata.createBucket(bucket, createdNanoseconds: wallClockNanoseconds())
            } catch {
                throw S3Error.internalError("metadata: \(error)")
            }
            guard created else { throw S3Error.bucketAlreadyOwnedByYou() }
            try await response.respond(status: 200, headers: ["Location": "/\(bucket)", "x-amz-request-id": request.requestID], body: "")
        case "HEAD":
            try await requireBucket(bucket)
            try await response.writeHead(status: 200, headers: ["x-amz-request-id": request.requestID], contentLength: 0)
        case "DELETE":
            // The native API writes into it whatever S3 says.
            guard bucket != objects.config.nativeBucket else {
                throw S3Error(status: 409, code: "BucketNotEmpty", message: "\(bucket) is the native API's bucket (--native-bucket): it stays")
            }
            let outcome: BucketDeletion
            do {
                outcome = try await metadata.deleteBucket(bucket)
            } catch {
                throw S3Error.internalError("metadata: \(error)")
            }
            switch outcome {
            case .deleted: try await response.writeHead(status: 204, headers: ["x-amz-request-id": request.requestID], contentLength: nil)
            case .missing: throw S3Error.noSuchBucket()
            case .notEmpty: throw S3Error.bucketNotEmpty()
            }
        case "GET":
            try await requireBucket(bucket)
            if query["location"] != nil { return try await xml(S3XML.locationConstraint(nil), request, response) }
            if query["versioning"] != nil { return try await xml(S3XML.versioningConfiguration(), request, response) }
            if query["uploads"] != nil { return try await listUploads(bucket, request, response) }
            if query["acl"] != nil { return try await xml(S3XML.accessControlPolicy(owner: Self.owner), request, response) }
            for unsupported in ["policy", "lifecycle", "cors", "tagging", "website", "versions"] where query[unsupported] != nil {
                throw S3Error.notImplemented("?\(unsupported) is not implemented by Flare yet")
            }
            try await list(bucket, query, request, response)
        case "POST":
            guard query["delete"] != nil else { throw S3Error.notImplemented("POST on a bucket is only DeleteObjects (?delete) here") }
            try await deleteObjects(bucket, request, response)
        default:
            throw S3Error.methodNotAllowed()
        }
    }

    private func requireBucket(_ bucket: String) async throws {
        let exists: Bool
        do {
            exists = try await metadata.buckets().contains { $0.name == bucket }
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        guard exists else { throw S3Error.noSuchBucket() }
    }

    /// ListObjectsV2 (`list-type=2`) or v1: keys under `prefix`, after `start-after` /
    /// `continuation-token` / `marker`, keys sharing a `delimiter` after the prefix rolled up
    /// into common prefixes (each counted once against `max-keys`).
    private func list(_ bucket: String, _ query: QueryParameters, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let v2 = query["list-type"] == "2"
        let prefix = query["prefix"] ?? ""
        let delimiter = query["delimiter"].flatMap { $0.isEmpty ? nil : $0 }
        let maxKeys = min(1000, max(0, Int(query["max-keys"] ?? "1000") ?? 1000))
        var after: String?
        if v2 {
            if let token = query["continuation-token"] {
                guard let data = Data(base64Encoded: token), let decoded = String(data: data, encoding: .utf8) else {
                    throw S3Error.invalidArgument("the continuation token is not one this server gave")
                }
                after = decoded
            } else if let start = query["start-after"], !start.isEmpty {
                after = start
            }
        } else if let marker = query["marker"], !marker.isEmpty {
            after = marker
        }
        let root = "\(bucket)/"
        var contents: [S3ObjectEntry] = [], prefixes: [String] = []
        var last: String?
        var truncated = false
        var cursor = after.map { resumePoint(root + $0, root: root, prefix: prefix, delimiter: delimiter) }
        // A page that ended on a common prefix: the next does not list it again.
        let resumed = after.flatMap { after in cursor != root + after ? after : nil }
        scan: while maxKeys > 0 {
            let page: ObjectListing
            do {
                page = try await metadata.list(prefix: root + prefix, startAfter: cursor, limit: maxKeys + 1)
            } catch {
                throw S3Error.internalError("metadata: \(error)")
            }
            for entry in page.entries {
                let key = String(decoding: entry.key.utf8.dropFirst(root.utf8.count), as: UTF8.self)
                let rest = key.dropFirst(prefix.count)
                let common = delimiter.flatMap { delimiter in rest.range(of: delimiter).map { String(key[..<$0.upperBound]) } }
                // One more item than the page holds: the listing goes on after this page.
                if contents.count + prefixes.count == maxKeys, common == nil || common != prefixes.last {
                    truncated = true
                    break scan
                }
                if let common, common == resumed {
                    cursor = Self.later(root + common + "\u{10FFFF}", entry.key)
                    continue scan
                }
                if let common {
                    if prefixes.last != common { prefixes.append(common) }
                    last = common
                    // On past every key under this common prefix, and never back.
                    cursor = Self.later(root + common + "\u{10FFFF}", entry.key)
                    continue scan
                }
                contents.append(S3ObjectEntry(key: key, lastModified: Date(nanoseconds: entry.createdNanoseconds), etag: entry.etag,
                                              size: Int64(entry.size), owner: !v2 || query["fetch-owner"] == "true" ? Self.owner : nil))
                last = key
                cursor = entry.key
            }
            if page.nextStartAfter == nil { break }
        }
        let encode = query["encoding-type"] == "url"
        let next = truncated ? last : nil
        let body: String
        if v2 {
            body = S3XML.listObjectsV2(S3ListObjectsV2Result(
                bucket: bucket, prefix: prefix, delimiter: delimiter, maxKeys: maxKeys, startAfter: query["start-after"],
                continuationToken: query["continuation-token"], nextContinuationToken: next.map { Data($0.utf8).base64EncodedString() },
                isTruncated: truncated, contents: contents, commonPrefixes: prefixes, encodeURL: encode))
        } else {
            body = S3XML.listObjectsV1(S3ListObjectsV1Result(
                bucket: bucket, prefix: prefix, delimiter: delimiter, maxKeys: maxKeys, marker: query["marker"] ?? "",
                nextMarker: delimiter != nil ? next : nil, isTruncated: truncated, contents: contents, commonPrefixes: prefixes,
                encodeURL: encode))
        }
        try await xml(body, request, response)
    }

    /// DeleteObjects: up to 1000 keys in one XML body (its Content-MD5 checked when sent);
    /// a key that is not there counts as deleted, as in S3.
    private func deleteObjects(_ bucket: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        try await requireBucket(bucket)
        let (quiet, keys) = try S3XML.parseDelete(try await readSmallBody(request, max: Self.completeBodyBytesMax))
        var outcomes: [S3DeleteOutcome] = []
        for key in keys {
            do {
                _ = try await metadata.delete(key: "\(bucket)/\(key)")
                outcomes.append(.deleted(key: key))
            } catch {
                outcomes.append(.failed(key: key, code: "InternalError", message: "metadata: \(error)"))
            }
        }
        try await xml(S3XML.deleteResult(outcomes, quiet: quiet), request, response)
    }

    /// Where a listing resumes after `after` (a store key: a key, or a common prefix a
    /// previous page ended on, as NextMarker and the continuation token carry): past every key
    /// under that common prefix, so it is not listed twice.
    private func resumePoint(_ after: String, root: String, prefix: String, delimiter: String?) -> String {
        guard let delimiter, after.hasPrefix(root + prefix) else { return after }
        let rest = after.dropFirst(root.count + prefix.count)
        guard let first = rest.range(of: delimiter), first.upperBound == rest.endIndex else { return after }
        return after + "\u{10FFFF}"
    }

    /// The later of two store keys in the store's order (bytes of UTF-8).
    static func later(_ a: String, _ b: String) -> String {
        a.utf8.lexicographicallyPrecedes(b.utf8) ? b : a
    }

    // MARK: - Objects

    private func putObject(_ bucket: String, _ key: String, _ authentication: S3Authentication, _ request: HTTPServerRequest,
                           _ response: HTTPResponseWriter) async throws {
        try await requireBucket(bucket)
        let manifest = try await store(as: "\(bucket)/\(key)", storedHeaders: Self.storedHeaders(request), authentication, request)
        try await response.respond(status: 200, headers: ["ETag": manifest.etag, "x-amz-request-id": request.requestID], body: "")
    }

    /// The headers an object keeps (content type apart): `x-amz-meta-*` and the ones S3
    /// returns on GET as they were sent.
    static func storedHeaders(_ request: HTTPServerRequest) -> ObjectAttributes {
        var attributes = ObjectAttributes(contentType: request.headers["Content-Type"])
        for (name, value) in request.headers.fields {
            let lower = name.lowercased()
            var value = value
            // aws-chunked is how the body was framed on the way in, not how it is stored.
            if lower == "content-encoding" {
                value = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { $0.lowercased() != "aws-chunked" && !$0.isEmpty }.joined(separator: ", ")
                if value.isEmpty { continue }
            }
            if lower.hasPrefix("x-amz-meta-") || ["cache-control", "content-disposition", "content-encoding", "content-language", "expires"].contains(lower) {
                attributes.headers.append(.init(name: lower, value: value))
            }
        }
        return attributes
    }

    /// Streams the request's body through the PUT pipeline as `storageKey`, hashing it on the
    /// way; the digests the request named (Content-MD5, x-amz-checksum-*, a hex
    /// x-amz-content-sha256) are checked before the commit, so a mismatch stores nothing.
    private func store(as storageKey: String, storedHeaders: ObjectAttributes, _ authentication: S3Authentication,
                       _ request: HTTPServerRequest) async throws -> ObjectManifest {
        // aws-chunked bodies (what SDKs send over HTTPS, and on request over HTTP) are decoded
        // on the way into the chunk buffers; each signed chunk is checked, the trailer's
        // checksum with the rest before the commit.
        let decodedLength = request.headers["x-amz-decoded-content-length"].flatMap { Int($0) }
        var framing: AWSChunkedDecoder?
        switch authentication.payload {
        case .unsigned, .sha256: framing = nil
        case .streamingUnsignedTrailer:
            framing = AWSChunkedDecoder(signing: nil, expectTrailer: true, decodedLengthMax: Self.objectBytesMax, expectedDecodedLength: decodedLength)
        case .streamingSigned(let signing):
            framing = AWSChunkedDecoder(signing: signing, expectTrailer: false, decodedLengthMax: Self.objectBytesMax, expectedDecodedLength: decodedLength)
        case .streamingSignedTrailer(let signing):
            framing = AWSChunkedDecoder(signing: signing, expectTrailer: true, decodedLengthMax: Self.objectBytesMax, expectedDecodedLength: decodedLength)
        }
        nonisolated(unsafe) var expected: S3ExpectedDigests
        do throws(S3DigestError) {
            expected = try S3ExpectedDigests(headers: request.headers.fields)
        } catch {
            throw S3Error(status: error.status, code: error.s3Code, message: error.description)
        }
        let context = objects.context(for: request.loop)
        let writer = objects.writer(context)
        nonisolated(unsafe) var hasher = PayloadHasher(expected.hasherConfiguration)
        nonisolated(unsafe) var decoder = framing
        nonisolated(unsafe) var decodeFailure: AWSChunkedError?
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: framing == nil ? 0 : Self.framedReadBytes, alignment: 16)
        defer { scratch.deallocate() }
        nonisolated(unsafe) let scratchSpace = scratch
        let source = request.body
        let attributes = storedHeaders
        do throws(ObjectWriteError) {
            return try await writer.write(key: storageKey, attributes: {
                let digests = hasher.finalize()
                do throws(S3DigestError) {
                    if let trailers = decoder?.trailers { try expected.addTrailers(trailers) }
                    try expected.verify(digests)
                } catch {
                    throw S3Error(status: error.status, code: error.s3Code, message: error.description)
                }
                var stored = attributes
                stored.md5 = digests.md5Hex
                return stored
            }, fill: { buffer throws(HTTPError) in
                guard decoder != nil else {
                    let count = try await source.readFully(into: buffer)
                    hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                    return count
                }
                var filled = 0
                // Never more in than there is room for: decoded bytes are fewer than encoded ones.
                while filled < buffer.count, !decoder!.isFinished {
                    let want = min(scratchSpace.count, buffer.count - filled)
                    let got = try await source.read(into: UnsafeMutableRawBufferPointer(rebasing: scratchSpace[0..<want]))
                    do throws(AWSChunkedError) {
                        if got == 0 {
                            try decoder!.finish()
                            break
                        }
                        try decoder!.feed(UnsafeRawBufferPointer(rebasing: scratchSpace[0..<got])) { piece in
                            UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + piece.count)]).copyMemory(from: piece)
                            filled += piece.count
                        }
                    } catch {
                        decodeFailure = error
                        throw HTTPError.malformed(HTTPParseError(status: error.status, "aws-chunked body: \(error)"))
                    }
                }
                hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<filled]))
                return filled
            })
        } catch {
            if case .body(let http) = error, case .connectionClosed = http { throw http }
            if let decodeFailure { throw S3Error(status: decodeFailure.status, code: decodeFailure.s3Code, message: decodeFailure.description) }
            if case .refused(let refusal) = error, let s3 = refusal as? S3Error { throw s3 }
            if case .metadata(_, let cause) = error, cause as? MultipartCompletionError == .noSuchUpload {
                throw S3Error.noSuchUpload("the upload was completed or aborted while this part was sent")
            }
            if case .metadata(_, let cause) = error, cause is BucketMissing { throw S3Error.noSuchBucket("the bucket was deleted during the upload") }
            throw S3Error(status: error.status, code: error.status == 503 ? "SlowDown" : error.status / 100 == 4 ? "InvalidRequest" : "InternalError",
                          message: error.description)
        }
    }

    // MARK: - Multipart uploads

    /// S3's largest object (5 TiB): what an aws-chunked body may decode to at most.
    static let objectBytesMax = 5 << 40
    /// Bytes of an aws-chunked body read at a time (then decoded into the chunk buffer).
    static let framedReadBytes = 256 << 10

    /// Parts but the last are at least this big (S3's rule; clients split by it).
    static let partSizeMin = 5 << 20
    static let partNumbers = 1...10_000

    private func createUpload(_ bucket: String, _ key: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        try await requireBucket(bucket)
        let id = ChunkID.random().description  // 128 random bits, hex: not guessable
        do {
            try await metadata.createUpload(MultipartUpload(id: id, key: "\(bucket)/\(key)", createdNanoseconds: wallClockNanoseconds(),
                                                            attributes: Self.storedHeaders(request)))
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        try await xml(S3XML.initiateMultipartUpload(bucket: bucket, key: key, uploadID: id), request, response)
    }

    /// The upload `id` of `bucket`/`key`, or NoSuchUpload.
    private func upload(_ id: String, _ bucket: String, _ key: String) async throws -> MultipartUpload {
        let upload: MultipartUpload?
        do {
            upload = try await metadata.upload(id)
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        guard let upload, upload.key == "\(bucket)/\(key)" else { throw S3Error.noSuchUpload() }
        return upload
    }

    private func uploadPart(_ bucket: String, _ key: String, _ id: String, _ query: QueryParameters, _ authentication: S3Authentication,
                            _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        guard let number = query["partNumber"].flatMap({ Int($0) }), Self.partNumbers.contains(number) else {
            throw S3Error.invalidArgument("partNumber must be a whole number 1…10000")
        }
        _ = try await upload(id, bucket, key)
        // A part re-sent replaces the earlier one (the commit queues the old chunks).
        let part = try await store(as: MultipartUpload.partKey(id, number), storedHeaders: ObjectAttributes(), authentication, request)
        try await response.respond(status: 200, headers: ["ETag": part.etag, "x-amz-request-id": request.requestID], body: "")
    }

    private func completeUpload(_ bucket: String, _ key: String, _ id: String, _ request: HTTPServerRequest,
                                _ response: HTTPResponseWriter) async throws {
        _ = try await upload(id, bucket, key)
        let parts = try S3XML.parseCompleteMultipartUpload(try await readSmallBody(request, max: Self.completeBodyBytesMax))
        // S3's ETag of a multipart object: the MD5 of the parts' MD5s, then the part count.
        var hasher = PayloadHasher()
        for part in parts {
            guard let md5 = S3Hex.decode(part.etag), md5.count == 16 else { throw S3Error.invalidPart("part \(part.partNumber)'s ETag is not an MD5") }
            md5.withUnsafeBytes { hasher.update($0) }
        }
        let etag = "\(hasher.finalize().md5Hex)-\(parts.count)"
        let object: ObjectManifest
        do {
            object = try await metadata.completeUpload(id, parts: parts.map { (number: $0.partNumber, etag: $0.etag) },
                                                       partSizeMin: Self.partSizeMin, etag: etag)
        } catch is BucketMissing {
            throw S3Error.noSuchBucket("the bucket was deleted during the upload")
        } catch let error as MultipartCompletionError {
            switch error {
            case .noSuchUpload: throw S3Error.noSuchUpload()
            case .invalidPart: throw S3Error.invalidPart("\(error)")
            case .invalidPartOrder: throw S3Error.invalidPartOrder()
            case .entityTooSmall: throw S3Error.entityTooSmall("\(error)")
            }
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        let location = "/\(bucket)/\(key)"
        try await xml(S3XML.completeMultipartUpload(location: location, bucket: bucket, key: key, etag: object.etag), request, response)
    }

    private func abortUpload(_ id: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let aborted: Bool
        do {
            aborted = try await metadata.abortUpload(id)
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        guard aborted else { throw S3Error.noSuchUpload() }
        try await response.writeHead(status: 204, headers: ["x-amz-request-id": request.requestID], contentLength: nil)
    }

    private func listParts(_ bucket: String, _ key: String, _ id: String, _ request: HTTPServerRequest,
                           _ response: HTTPResponseWriter) async throws {
        _ = try await upload(id, bucket, key)
        let page: ObjectListing
        do {
            page = try await metadata.list(prefix: MultipartUpload.partPrefix(id), startAfter: nil, limit: Self.partNumbers.upperBound)
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        let parts = page.entries.compactMap { entry -> S3PartEntry? in
            guard let number = Int(entry.key.dropFirst(MultipartUpload.partPrefix(id).count)) else { return nil }
            return S3PartEntry(partNumber: number, lastModified: Date(nanoseconds: entry.createdNanoseconds), etag: entry.etag,
                               size: Int64(entry.size))
        }
        try await xml(S3XML.listParts(S3ListPartsResult(bucket: bucket, key: key, uploadID: id, owner: Self.owner, maxParts: 10_000,
                                                        parts: parts)), request, response)
    }

    private func listUploads(_ bucket: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let uploads: [MultipartUpload]
        do {
            uploads = try await metadata.uploads(prefix: "\(bucket)/")
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        let entries = uploads.prefix(1000).map {
            S3UploadEntry(key: String(decoding: $0.key.utf8.dropFirst(bucket.utf8.count + 1), as: UTF8.self), uploadID: $0.id,
                          initiated: Date(nanoseconds: $0.createdNanoseconds))
        }
        try await xml(S3XML.listMultipartUploads(S3ListMultipartUploadsResult(bucket: bucket, owner: Self.owner, isTruncated: uploads.count > 1000,
                                                                              uploads: Array(entries))), request, response)
    }

    /// A CompleteMultipartUpload body of 10,000 parts is about 1 MiB.
    static let completeBodyBytesMax = 4 << 20

    /// The object's manifest, or NoSuchKey (NoSuchBucket when the bucket is missing too).
    private func getObjectManifest(_ bucket: String, _ key: String) async throws -> ObjectManifest {
        let loaded: ObjectManifest?
        do {
            loaded = try await metadata.manifest(for: "\(bucket)/\(key)")
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        guard let manifest = loaded else {
            try await requireBucket(bucket)
            throw S3Error.noSuchKey()
        }
        return manifest
    }

    private func getObject(_ bucket: String, _ key: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let manifest = try await getObjectManifest(bucket, key)
        var headers: HTTPHeaders = [
            "Content-Type": manifest.attributes.contentType ?? "binary/octet-stream",
            "ETag": manifest.etag,
            "Last-Modified": S3Time.httpDate(Date(nanoseconds: manifest.createdNanoseconds)),
            "Accept-Ranges": "bytes",
            "x-amz-request-id": request.requestID,
        ]
        for header in manifest.attributes.headers { headers.add(header.name, header.value) }
        let range: Range<Int>
        var status = 200
        switch ByteRange.resolve(request.headers["Range"], length: manifest.size) {
        case .full:
            range = 0..<manifest.size
        case .partial(let bytes):
            // One range, never a whole-object checksum beside it.
            range = bytes
            status = 206
            headers.add("Content-Range", "bytes \(bytes.lowerBound)-\(bytes.upperBound - 1)/\(manifest.size)")
        case .unsatisfiable:
            throw S3Error.invalidRange()
        }
        if request.method == "HEAD" {
            return try await response.writeHead(status: status, headers: headers, contentLength: range.count)
        }
        try await objects.streamObject(manifest, range: range, status: status, headers: headers, objects.context(for: request.loop),
                                       request, response) { message in
            try await send(S3Error(status: 503, code: "SlowDown", message: message), request, response)
        }
    }

    // MARK: - Helpers

    /// A small body (XML) read whole and checked against every digest the request names —
    /// the signed `x-amz-content-sha256`, `Content-MD5`, `x-amz-checksum-*` — so a body
    /// changed on the way is refused like a changed object.
    private func readSmallBody(_ request: HTTPServerRequest, max: Int = xmlBodyBytesMax) async throws -> Data {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max + 1, alignment: 16)
        defer { buffer.deallocate() }
        let count: Int
        do {
            count = try await request.body.readFully(into: buffer)
        } catch {
            if case .connectionClosed = error { throw error }
            throw S3Error(status: error.status, code: error.status == 408 ? "RequestTimeout" : "IncompleteBody", message: "\(error)")
        }
        guard count <= max else { throw S3Error.invalidRequest("the request body is over \(max) bytes") }
        let body = Data(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        do throws(S3DigestError) {
            let expected = try S3ExpectedDigests(headers: request.headers.fields)
            var hasher = PayloadHasher(expected.hasherConfiguration)
            body.withUnsafeBytes { hasher.update($0) }
            try expected.verify(hasher.finalize())
        } catch {
            throw S3Error(status: error.status, code: error.s3Code, message: error.description)
        }
        return body
    }

    private func xml(_ body: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        try await response.respond(status: 200, headers: ["Content-Type": "application/xml", "x-amz-request-id": request.requestID], body: body)
    }
}

extension Date {
    init(nanoseconds: Int64) { self.init(timeIntervalSince1970: Double(nanoseconds) / 1e9) }
}
