import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata
import FlareS3
import Foundation

/// S3's server-side copies: CopyObject and UploadPartCopy. The source's bytes are read from
/// its replicas and written through the PUT pipeline as new chunks (``ObjectCopySource``):
/// checksummed, replicated and committed like any PUT, never a partial object.
extension S3Routes {
    /// S3's largest CopyObject source and UploadPartCopy range (5 GiB); clients copy larger
    /// objects part by part.
    static let copyBytesMax = 5 << 30

    func copyObject(_ bucket: String, _ key: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        try await requireBucket(bucket)
        let source = try await copySource(request)
        let directive = request.headers["x-amz-metadata-directive"]?.uppercased() ?? "COPY"
        guard directive == "COPY" || directive == "REPLACE" else {
            throw S3Error.invalidArgument("Unknown metadata directive: x-amz-metadata-directive is COPY or REPLACE")
        }
        if directive == "COPY", source.address == S3CopySource(bucket: bucket, key: key) {
            throw S3Error.invalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
        }
        guard source.manifest.size <= Self.copyBytesMax else {
            throw S3Error.invalidRequest("The specified copy source is larger than the maximum allowable size for a copy source: \(Self.copyBytesMax)")
        }
        var attributes = directive == "REPLACE" ? Self.storedHeaders(request) : source.manifest.attributes
        attributes.md5 = nil
        let copied = try await copy(source.manifest, range: 0..<source.manifest.size, as: "\(bucket)/\(key)", attributes: attributes, request)
        try await xml(S3XML.copyObjectResult(etag: copied.etag, lastModified: Date(nanoseconds: copied.createdNanoseconds)), request, response)
    }

    func uploadPartCopy(_ bucket: String, _ key: String, _ id: String, _ query: QueryParameters, _ request: HTTPServerRequest,
                        _ response: HTTPResponseWriter) async throws {
        guard let number = query["partNumber"].flatMap({ Int($0) }), Self.partNumbers.contains(number) else {
            throw S3Error.invalidArgument("partNumber must be a whole number 1…10000")
        }
        _ = try await upload(id, bucket, key)
        let source = try await copySource(request)
        let range = try request.headers["x-amz-copy-source-range"].map { header throws(S3Error) in
            try S3CopySource.range(header, size: source.manifest.size)
        } ?? 0..<source.manifest.size
        guard range.count <= Self.copyBytesMax else {
            throw S3Error.invalidRequest("The specified copy range is larger than the maximum allowable size for a part copy: \(Self.copyBytesMax)")
        }
        let part = try await copy(source.manifest, range: range, as: MultipartUpload.partKey(id, number), attributes: ObjectAttributes(), request)
        try await xml(S3XML.copyPartResult(etag: part.etag, lastModified: Date(nanoseconds: part.createdNanoseconds)), request, response)
    }

    /// The object `x-amz-copy-source` names, once its `x-amz-copy-source-if-*` conditions hold.
    private func copySource(_ request: HTTPServerRequest) async throws -> (address: S3CopySource, manifest: ObjectManifest) {
        let address = try S3CopySource.parse(request.headers["x-amz-copy-source"] ?? "")
        guard S3BucketName.isValid(address.bucket) else { throw S3Error.noSuchBucket("The copy source bucket does not exist") }
        let manifest = try await getObjectManifest(address.bucket, address.key)
        try S3CopyConditions(headers: request.headers.fields).check(etag: manifest.etag, lastModified: Date(nanoseconds: manifest.createdNanoseconds))
        return (address, manifest)
    }

    /// Writes `range` of `source` as `storageKey` with `attributes`. The copy's ETag is the
    /// source's MD5 when the whole of a single-PUT object is copied, else the MD5 of the bytes
    /// copied, computed on the way.
    private func copy(_ source: ObjectManifest, range: Range<Int>, as storageKey: String, attributes: ObjectAttributes,
                      _ request: HTTPServerRequest) async throws -> ObjectManifest {
        let context = objects.context(for: request.loop)
        let scratch: IOBuffer
        do {
            scratch = try await context.copyPool.acquire()
        } catch {
            throw S3Error(status: 503, code: "SlowDown", message: "too many copies in progress: \(error)")
        }
        let body = objects.copySource(source, range: range, scratch: scratch, context, request)
        let knownMD5 = range == 0..<source.size ? source.attributes.md5.flatMap { Hex.decode($0)?.count == 16 ? $0 : nil } : nil
        let digest = knownMD5 == nil ? OffloadedDigest(PayloadHasher.Configuration()) : nil
        let stored = attributes
        do throws(ObjectWriteError) {
            return try await objects.writer(context).write(key: storageKey, attributes: {
                var attributes = stored
                if let knownMD5 { attributes.md5 = knownMD5 } else { attributes.md5 = await digest!.finalize().md5Hex }
                return attributes
            }, filled: { buffer in
                await digest?.add(buffer)
            }, fill: { buffer throws(HTTPError) in
                try await body.fill(buffer)
            })
        } catch {
            await digest?.settle()
            if let failure = body.failure {
                throw S3Error(status: 503, code: "ServiceUnavailable", message: "the copy source could not be read: \(failure)")
            }
            throw Self.s3Failure(error)
        }
    }
}
