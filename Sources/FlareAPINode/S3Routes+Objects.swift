import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata
import FlareS3
import Foundation

/// S3's object requests: PutObject through the PUT pipeline (digests checked before the
/// commit, aws-chunked decoded on the way), GetObject and HeadObject.
extension S3Routes {
    // MARK: - Objects

    func putObject(_ bucket: String, _ key: String, _ authentication: S3Authentication, _ request: HTTPServerRequest,
                           _ response: HTTPResponseWriter) async throws {
        try await requireBucket(bucket)
        try refuseTooLarge(request)
        let manifest = try await store(as: "\(bucket)/\(key)", storedHeaders: Self.storedHeaders(request), authentication, request)
        var headers: HTTPHeaders = ["ETag": manifest.etag, "x-amz-request-id": request.requestID]
        if let checksum = manifest.attributes.checksum { headers.add(checksum.name, checksum.value) }
        try await response.respond(status: 200, headers: headers, body: "")
    }

    /// EntityTooLarge on the head alone when the body announces more than `--max-object-size`.
    func refuseTooLarge(_ request: HTTPServerRequest) throws {
        let announced = (request.headers["x-amz-decoded-content-length"] ?? request.headers["Content-Length"]).flatMap { Int($0) }
        if let announced, announced > objects.config.objectBytesMax {
            objects.metrics.counter("flare_api_refused_total", ["reason": "too_large"]).increment()
            throw S3Error.entityTooLarge(ObjectWriteError.tooLarge(limit: objects.config.objectBytesMax).description)
        }
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
    func store(as storageKey: String, storedHeaders: ObjectAttributes, _ authentication: S3Authentication,
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
        let digest = OffloadedDigest(expected.hasherConfiguration)
        nonisolated(unsafe) var decoder = framing
        nonisolated(unsafe) var decodeFailure: AWSChunkedError?
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: framing == nil ? 0 : Self.framedReadBytes, alignment: 16)
        defer { scratch.deallocate() }
        nonisolated(unsafe) let scratchSpace = scratch
        let source = request.body
        let attributes = storedHeaders
        do throws(ObjectWriteError) {
            return try await writer.write(key: storageKey, attributes: {
                let digests = await digest.finalize()
                do throws(S3DigestError) {
                    if let trailers = decoder?.trailers { try expected.addTrailers(trailers) }
                    try expected.verify(digests)
                } catch {
                    throw S3Error(status: error.status, code: error.s3Code, message: error.description)
                }
                var stored = attributes
                stored.md5 = digests.md5Hex
                // Verified above: kept for a GET that asks (x-amz-checksum-mode: ENABLED).
                stored.checksum = digests.checksum.map { ObjectAttributes.Header(name: $0.algorithm.headerName, value: $0.base64) }
                return stored
            }, filled: { buffer in
                await digest.add(buffer)
            }, fill: { buffer throws(HTTPError) in
                guard decoder != nil else { return try await source.readFully(into: buffer) }
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
                return filled
            })
        } catch {
            // The chunk being hashed, if any, is still read: its buffer goes back only after.
            await digest.settle()
            if let decodeFailure { throw S3Error(status: decodeFailure.status, code: decodeFailure.s3Code, message: decodeFailure.description) }
            throw Self.s3Failure(error)
        }
    }

    /// What a failed write of the PUT pipeline tells an S3 client (a closed connection passes
    /// through: there is nobody to tell).
    static func s3Failure(_ error: ObjectWriteError) -> Error {
        if case .body(let http) = error, case .connectionClosed = http { return http }
        if case .tooLarge = error { return S3Error.entityTooLarge(error.description) }
        if case .refused(let refusal) = error, let s3 = refusal as? S3Error { return s3 }
        if case .metadata(_, let cause) = error, cause as? MultipartCompletionError == .noSuchUpload {
            return S3Error.noSuchUpload("the upload was completed or aborted while this part was sent")
        }
        if case .metadata(_, let cause) = error, cause is BucketMissing { return S3Error.noSuchBucket("the bucket was deleted during the upload") }
        return S3Error(status: error.status, code: error.status == 503 ? "SlowDown" : error.status / 100 == 4 ? "InvalidRequest" : "InternalError",
                       message: error.description)
    }


    func getObjectManifest(_ bucket: String, _ key: String) async throws -> ObjectManifest {
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

    func getObject(_ bucket: String, _ key: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
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
            if let checksum = manifest.attributes.checksum, request.headers["x-amz-checksum-mode"]?.uppercased() == "ENABLED" {
                headers.add(checksum.name, checksum.value)
            }
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
}
