import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata
import FlareS3
import FlareTracing
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
/// DeleteObjects (`POST ?delete`) too, server-side copies (CopyObject and UploadPartCopy), and
/// browser-based uploads (POST Object with a signed policy, `S3Routes+Post`).
///
/// Payloads whole (a hex SHA-256 or UNSIGNED-PAYLOAD) or aws-chunked (signed chunks, and
/// trailers with the checksum).
struct S3Routes: Sendable {
    let objects: APIRoutes
    let credentials: S3Credentials
    /// For virtual-host-style addressing (`<bucket>.<baseDomain>`); nil: path style only.
    let baseDomain: String?
    /// Request bodies read whole (CreateBucketConfiguration) at most.
    static let xmlBodyBytesMax = 64 * 1024
    static let owner = S3Owner(id: "flare", displayName: "flare")

    var metadata: MetadataStore { objects.metadata }

    func handle(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        try await withServerSpan("S3 \(request.method)", request, response) { span in
            do {
                try await route(request, response)
            } catch let error as S3Error {
                span.attributes["s3.error"] = error.code
                guard !response.headSent else { throw error }
                try await send(error, request, response)
            }
        }
    }

    func send(_ error: S3Error, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let body = request.method == "HEAD" ? "" : error.xml(resource: String(request.path), requestID: request.requestID)
        try await response.respond(status: error.status, headers: ["Content-Type": "application/xml", "x-amz-request-id": request.requestID],
                                   body: body)
    }

    func route(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let head = S3RequestHead(method: request.method, target: request.head.target, headers: request.headers.fields)
        let verified = try S3Auth.verify(head, credentials: credentials, now: Date(), baseDomain: baseDomain)
        let address = try S3Address.parse(target: String(request.path), host: request.headers["Host"], baseDomain: baseDomain)
        let query: QueryParameters
        do {
            query = try QueryParameters(request.head.query)
        } catch {
            throw S3Error.invalidArgument(error.description)
        }
        guard let authentication = verified else { return try await anonymous(address, query, request, response) }
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
            guard request.method == "GET" else {
                throw S3Error.notImplemented("objects have no ACLs of their own here: make the bucket public-read (PUT ?acl with x-amz-acl) to let anyone read it")
            }
            _ = try await getObjectManifest(bucket, key)
            let publicRead = try await bucketInfo(bucket)?.publicRead ?? false
            return try await xml(S3XML.accessControlPolicy(owner: Self.owner, publicRead: publicRead), request, response)
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
                if request.headers["x-amz-copy-source"] != nil { return try await uploadPartCopy(bucket, key, uploadID, query, request, response) }
                return try await uploadPart(bucket, key, uploadID, query, authentication, request, response)
            case "POST": return try await completeUpload(bucket, key, uploadID, request, response)
            case "DELETE": return try await abortUpload(uploadID, request, response)
            case "GET": return try await listParts(bucket, key, uploadID, request, response)
            default: throw S3Error.methodNotAllowed()
            }
        }
        switch request.method {
        case "PUT":
            try Self.refuseObjectACL(request)
            if request.headers["x-amz-copy-source"] != nil { return try await copyObject(bucket, key, request, response) }
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

    // MARK: - Anonymous requests

    /// Query parameters an anonymous read may carry: a listing's.
    static let anonymousQuery: Set<String> = ["list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after",
                                              "fetch-owner", "encoding-type", "marker"]

    /// An unsigned request. Served only to read a `public-read` bucket — GET or HEAD of an
    /// object, a listing, HEAD of the bucket — and refused with AccessDenied otherwise, the
    /// same for a private bucket and a missing one (as S3 does: an anonymous caller learns
    /// nothing of what exists).
    func anonymous(_ address: S3Address, _ query: QueryParameters, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        // A browser-based upload: its authorization is in the form (a signed policy).
        if request.method == "POST", let bucket = address.bucket, address.key?.isEmpty ?? true, query.values.isEmpty,
           let boundary = try? MultipartFormDecoder.boundary(ofContentType: request.headers["Content-Type"] ?? "") {
            guard S3BucketName.isValid(bucket) else { throw S3Error.noSuchBucket() }
            return try await postObject(bucket, boundary: boundary, request, response)
        }
        let denied = S3Error.accessDenied("anonymous requests only read public-read buckets: sign with one of the --s3-credentials keys")
        guard request.method == "GET" || request.method == "HEAD", let bucket = address.bucket, S3BucketName.isValid(bucket),
              query.unknown(allowing: Self.anonymousQuery) == nil,
              try await bucketInfo(bucket)?.publicRead == true else { throw denied }
        guard let key = address.key, !key.isEmpty else {
            if request.method == "HEAD" {
                return try await response.writeHead(status: 200, headers: ["x-amz-request-id": request.requestID], contentLength: 0)
            }
            return try await list(bucket, query, request, response)
        }
        guard query.values.isEmpty else { throw denied }
        try await getObject(bucket, key, request, response)
    }

    /// Objects carry no ACL of their own: a PUT asking for one anybody could read is refused
    /// rather than stored private without a word (`private`, what clients send by default, is
    /// what every object is).
    static func refuseObjectACL(_ request: HTTPServerRequest) throws {
        if let acl = request.headers["x-amz-acl"], acl.lowercased() != "private", acl.lowercased() != "bucket-owner-full-control" {
            throw S3Error.notImplemented("objects have no ACLs of their own here (x-amz-acl: \(acl)): make the bucket public-read instead")
        }
        for grant in ["x-amz-grant-read", "x-amz-grant-full-control", "x-amz-grant-read-acp", "x-amz-grant-write-acp"]
        where request.headers[grant] != nil {
            throw S3Error.notImplemented("objects have no ACLs of their own here (\(grant)): make the bucket public-read instead")
        }
    }

    // MARK: - Helpers

    /// A small body (XML) read whole and checked against every digest the request names —
    /// the signed `x-amz-content-sha256`, `Content-MD5`, `x-amz-checksum-*` — so a body
    /// changed on the way is refused like a changed object.
    func readSmallBody(_ request: HTTPServerRequest, max: Int = xmlBodyBytesMax) async throws -> Data {
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

    func xml(_ body: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        try await response.respond(status: 200, headers: ["Content-Type": "application/xml", "x-amz-request-id": request.requestID], body: body)
    }
}

extension Date {
    init(nanoseconds: Int64) { self.init(timeIntervalSince1970: Double(nanoseconds) / 1e9) }
}
