import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata
import FlareS3
import Foundation

/// S3's bucket requests: ListBuckets, Create/Head/Delete, location, versioning, ACL,
/// ListObjects v1 and v2, DeleteObjects.
extension S3Routes {
    // MARK: - Buckets

    func listBuckets(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
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

    func bucketRequest(_ bucket: String, _ query: QueryParameters, _ request: HTTPServerRequest,
                               _ response: HTTPResponseWriter) async throws {
        switch request.method {
        case "PUT":
            guard S3BucketName.isValid(bucket) else { throw S3Error.invalidBucketName() }
            if query["acl"] != nil { return try await putBucketACL(bucket, request, response) }
            let publicRead = try Self.cannedACL(request)
            let body = try await readSmallBody(request)
            _ = try S3XML.parseCreateBucketConfiguration(body)
            let created: Bool
            do {
                created = try await metadata.createBucket(bucket, createdNanoseconds: wallClockNanoseconds())
                if created && publicRead == true { _ = try await metadata.setBucketPublicRead(bucket, true) }
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
            if query["acl"] != nil {
                let publicRead = try await bucketInfo(bucket)?.publicRead ?? false
                return try await xml(S3XML.accessControlPolicy(owner: Self.owner, publicRead: publicRead), request, response)
            }
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

    func requireBucket(_ bucket: String) async throws {
        guard try await bucketInfo(bucket) != nil else { throw S3Error.noSuchBucket() }
    }

    /// The bucket, or nil when there is none of that name.
    func bucketInfo(_ bucket: String) async throws -> BucketInfo? {
        do {
            return try await metadata.bucket(bucket)
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
    }

    /// The canned ACL of `x-amz-acl`: true for `public-read`, false for `private`, nil when
    /// none is sent; the others (`public-read-write`, `authenticated-read`, …) are refused,
    /// as are explicit grants.
    static func cannedACL(_ request: HTTPServerRequest) throws -> Bool? {
        for grant in ["x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-full-control", "x-amz-grant-read-acp", "x-amz-grant-write-acp"]
        where request.headers[grant] != nil {
            throw S3Error.notImplemented("grants (\(grant)) are not implemented: use x-amz-acl: public-read or private")
        }
        guard let acl = request.headers["x-amz-acl"] else { return nil }
        switch acl.lowercased() {
        case "private": return false
        case "public-read": return true
        default: throw S3Error.notImplemented("the canned ACL \(acl) is not implemented: use public-read or private")
        }
    }

    /// PutBucketAcl with a canned ACL: `public-read` lets anonymous requests read the bucket's
    /// objects and list it; `private` stops that. An ACL document in the body is refused.
    func putBucketACL(_ bucket: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let body = try await readSmallBody(request)
        guard let publicRead = try Self.cannedACL(request) else {
            throw S3Error.notImplemented(body.isEmpty ? "send a canned ACL: x-amz-acl: public-read or private"
                                                      : "ACL documents are not implemented: send x-amz-acl: public-read or private")
        }
        let changed: Bool
        do {
            changed = try await metadata.setBucketPublicRead(bucket, publicRead)
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        guard changed else { throw S3Error.noSuchBucket() }
        try await response.respond(status: 200, headers: ["x-amz-request-id": request.requestID], body: "")
    }

    /// ListObjectsV2 (`list-type=2`) or v1: keys under `prefix`, after `start-after` /
    /// `continuation-token` / `marker`, keys sharing a `delimiter` after the prefix rolled up
    /// into common prefixes (each counted once against `max-keys`).
    func list(_ bucket: String, _ query: QueryParameters, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
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
        let listing: DelimitedListing
        do {
            listing = try await DelimitedListing.scan(metadata, bucket: bucket, prefix: prefix, delimiter: delimiter, after: after, maxKeys: maxKeys)
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        let contents = listing.contents.map { entry in
            S3ObjectEntry(key: entry.key, lastModified: Date(nanoseconds: entry.createdNanoseconds), etag: entry.etag,
                          size: Int64(entry.size), owner: !v2 || query["fetch-owner"] == "true" ? Self.owner : nil)
        }
        let prefixes = listing.prefixes, truncated = listing.truncated
        let encode = query["encoding-type"] == "url"
        let next = listing.last
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
    func deleteObjects(_ bucket: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
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
}
