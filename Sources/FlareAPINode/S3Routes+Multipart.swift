import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata
import FlareS3
import Foundation

/// S3's multipart uploads: parts are manifests under `.mpu/<id>/`; completing one is a
/// metadata operation.
extension S3Routes {
    // MARK: - Multipart uploads

    /// S3's largest object (5 TiB): what an aws-chunked body may decode to at most.
    static let objectBytesMax = 5 << 40
    /// Bytes of an aws-chunked body read at a time (then decoded into the chunk buffer).
    static let framedReadBytes = 256 << 10

    /// Parts but the last are at least this big (S3's rule; clients split by it).
    static let partSizeMin = 5 << 20
    static let partNumbers = 1...10_000

    func createUpload(_ bucket: String, _ key: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
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
    func upload(_ id: String, _ bucket: String, _ key: String) async throws -> MultipartUpload {
        let upload: MultipartUpload?
        do {
            upload = try await metadata.upload(id)
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        guard let upload, upload.key == "\(bucket)/\(key)" else { throw S3Error.noSuchUpload() }
        return upload
    }

    func uploadPart(_ bucket: String, _ key: String, _ id: String, _ query: QueryParameters, _ authentication: S3Authentication,
                            _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        guard let number = query["partNumber"].flatMap({ Int($0) }), Self.partNumbers.contains(number) else {
            throw S3Error.invalidArgument("partNumber must be a whole number 1…10000")
        }
        _ = try await upload(id, bucket, key)
        try refuseTooLarge(request)
        // A part re-sent replaces the earlier one (the commit queues the old chunks).
        let part = try await store(as: MultipartUpload.partKey(id, number), storedHeaders: ObjectAttributes(), authentication, request)
        try await response.respond(status: 200, headers: ["ETag": part.etag, "x-amz-request-id": request.requestID], body: "")
    }

    func completeUpload(_ bucket: String, _ key: String, _ id: String, _ request: HTTPServerRequest,
                                _ response: HTTPResponseWriter) async throws {
        _ = try await upload(id, bucket, key)
        let parts = try S3XML.parseCompleteMultipartUpload(try await readSmallBody(request, max: Self.completeBodyBytesMax))
        // S3's ETag of a multipart object: the MD5 of the parts' MD5s, then the part count.
        var hasher = PayloadHasher()
        for part in parts {
            guard let md5 = Hex.decode(part.etag), md5.count == 16 else { throw S3Error.invalidPart("part \(part.partNumber)'s ETag is not an MD5") }
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

    func abortUpload(_ id: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let aborted: Bool
        do {
            aborted = try await metadata.abortUpload(id)
        } catch {
            throw S3Error.internalError("metadata: \(error)")
        }
        guard aborted else { throw S3Error.noSuchUpload() }
        try await response.writeHead(status: 204, headers: ["x-amz-request-id": request.requestID], contentLength: nil)
    }

    func listParts(_ bucket: String, _ key: String, _ id: String, _ request: HTTPServerRequest,
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

    func listUploads(_ bucket: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
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
}
