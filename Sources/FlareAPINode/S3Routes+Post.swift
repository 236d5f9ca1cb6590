import FlareCore
import FlareHTTP
import FlareIO
import FlareS3
import Foundation

extension S3Routes {
    /// Fields of a browser POST that become the object's headers, as a PUT's would.
    static let postStoredHeaders: Set<String> = ["cache-control", "content-disposition", "content-encoding", "expires"]

    /// S3's browser-based upload: `POST /<bucket>` with a `multipart/form-data` body whose
    /// fields (before the file) carry the key, a policy and its SigV4 signature (what boto3's
    /// `generate_presigned_post` makes). The policy is checked when the file's head arrives —
    /// before a byte of it is stored — and its content-length range as the file streams
    /// through the PUT pipeline; the rest of the form must be well-formed, or nothing is
    /// committed. Answers as `success_action_redirect` or `success_action_status` say (204
    /// by default, as S3).
    func postObject(_ bucket: String, boundary: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let form: FormUpload
        do {
            form = try FormUpload(body: request.body, boundary: boundary)
        } catch {
            throw S3Error.malformedPOSTRequest(error.message)
        }
        let file: MultipartPartHead?
        do {
            file = try await form.nextFile()
        } catch {
            if case .connectionClosed = error { throw error }
            throw S3Error.malformedPOSTRequest(error.description)
        }
        var fields: [String: String] = [:]
        for (name, value) in form.fields where fields[name.lowercased()] == nil { fields[name.lowercased()] = value }
        guard let file else {
            throw S3Error.invalidArgument("POST requires exactly one file upload per request (a field named 'file', after the others).")
        }
        let policy = try S3PostPolicy.verify(fields: fields, bucket: bucket, credentials: credentials, now: Date())
        try await requireBucket(bucket)
        let key = fields["key"]!.replacingOccurrences(of: "${filename}", with: file.filename ?? "")
        guard !key.isEmpty else { throw S3Error.invalidArgument("the key field names no object") }
        do {
            _ = try ObjectKey.validate(Array(key.utf8))
        } catch {
            throw S3Address.keyError(error)
        }
        if let acl = fields["acl"], acl != "private" {
            throw S3Error.notImplemented("objects have no ACLs of their own here (acl \(acl)): make the bucket public-read to let anyone read it")
        }
        let status = Self.successStatus(fields)

        var attributes = ObjectAttributes(contentType: fields["content-type"] ?? file.contentType)
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) where name.hasPrefix("x-amz-meta-") || Self.postStoredHeaders.contains(name) {
            attributes.headers.append(.init(name: name, value: value))
        }
        let range = policy.lengthRange
        let context = objects.context(for: request.loop)
        var writer = objects.writer(context)
        if let range { writer.sizeMax = min(writer.sizeMax, range.upperBound) }
        let digest = OffloadedDigest(PayloadHasher.Configuration())
        let manifest: ObjectManifest
        do throws(ObjectWriteError) {
            manifest = try await writer.write(key: "\(bucket)/\(key)", attributes: {
                let digests = await digest.finalize()
                if let range, digests.byteCount < range.lowerBound {
                    throw S3Error.entityTooSmall("Your proposed upload is smaller than the minimum allowed size (\(range.lowerBound) bytes, by the policy)")
                }
                try await form.finish()
                var stored = attributes
                stored.md5 = digests.md5Hex
                return stored
            }, filled: { buffer in
                await digest.add(buffer)
            }, fill: { buffer throws(HTTPError) in try await form.fill(buffer) })
        } catch {
            await digest.settle()
            if case .tooLarge = error, let range, range.upperBound < objects.config.objectBytesMax {
                throw S3Error.entityTooLarge("Your proposed upload exceeds the maximum allowed size (\(range.upperBound) bytes, by the policy)")
            }
            if case .body(let http) = error, case .malformed(let parse) = http { throw S3Error.malformedPOSTRequest(parse.message) }
            if case .refused(let refusal) = error, let http = refusal as? HTTPError, case .malformed(let parse) = http {
                throw S3Error.malformedPOSTRequest(parse.message)
            }
            throw Self.s3Failure(error)
        }

        let location = "/\(bucket)/\(ObjectKey.encode(key))"
        if let redirect = fields["success_action_redirect"] ?? fields["redirect"], let target = Self.redirectTarget(redirect, bucket, key, manifest.etag) {
            return try await response.respond(status: 303, headers: ["ETag": manifest.etag, "Location": target, "x-amz-request-id": request.requestID],
                                              body: "")
        }
        var headers: HTTPHeaders = ["ETag": manifest.etag, "Location": location, "x-amz-request-id": request.requestID]
        switch status {
        case 201:
            headers.add("Content-Type", "application/xml")
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>\(S3XML.escape(location))</Location>"
                + "<Bucket>\(S3XML.escape(bucket))</Bucket><Key>\(S3XML.escape(key))</Key><ETag>\(S3XML.escape(manifest.etag))</ETag></PostResponse>"
            try await response.respond(status: 201, headers: headers, body: body)
        case 200: try await response.respond(status: 200, headers: headers, body: "")
        default: try await response.writeHead(status: 204, headers: headers, contentLength: nil)
        }
    }

    /// `success_action_status`: 200, 201 or 204 (the default; any other value too, as S3).
    static func successStatus(_ fields: [String: String]) -> Int {
        guard let text = fields["success_action_status"], let status = Int(text), [200, 201, 204].contains(status) else { return 204 }
        return status
    }

    /// Where `success_action_redirect` sends the browser, with `bucket`, `key` and `etag` added
    /// to its query; nil for a value that is not an absolute http(s) URL (S3 then answers as
    /// if none had been given).
    static func redirectTarget(_ redirect: String, _ bucket: String, _ key: String, _ etag: String) -> String? {
        guard var components = URLComponents(string: redirect), ["http", "https"].contains(components.scheme?.lowercased() ?? "") else { return nil }
        var items = components.queryItems ?? []
        items += [URLQueryItem(name: "bucket", value: bucket), URLQueryItem(name: "key", value: key), URLQueryItem(name: "etag", value: etag)]
        components.queryItems = items
        return components.url?.absoluteString
    }
}

extension S3Error {
    /// 400: a POST whose multipart/form-data body is not well-formed.
    static func malformedPOSTRequest(_ message: String) -> S3Error {
        S3Error(status: 400, code: "MalformedPOSTRequest", message: "The body of your POST request is not well-formed multipart/form-data: \(message)")
    }
}
