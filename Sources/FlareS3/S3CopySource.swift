import struct Foundation.Date

/// What CopyObject and UploadPartCopy copy: `x-amz-copy-source` (`[/]bucket/key`, URL-encoded,
/// optionally `?versionId=`), the part's `x-amz-copy-source-range`, and the
/// `x-amz-copy-source-if-*` conditions on the source.
public struct S3CopySource: Sendable, Equatable {
    public let bucket: String
    public let key: String

    public init(bucket: String, key: String) {
        self.bucket = bucket
        self.key = key
    }

    /// Reads `x-amz-copy-source`. The key is decoded after the query is split off, so a `?` in
    /// a key arrives as `%3F`, as clients send it.
    public static func parse(_ header: String) throws(S3Error) -> S3CopySource {
        var path = Substring(header)
        if let question = path.firstIndex(of: "?") {
            let query = path[path.index(after: question)...]
            path = path[..<question]
            for item in query.split(separator: "&") where item.hasPrefix("versionId=") {
                // Versioning is never enabled: "null" is the only version an object has.
                guard item.dropFirst("versionId=".count) == "null" else {
                    throw S3Error.invalidArgument("versioning is not enabled on Flare: the only versionId is null")
                }
            }
        }
        let decoded = S3URIEncoding.decode(path)
        var rest = Substring(decoded)
        if rest.first == "/" { rest = rest.dropFirst() }
        guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex, rest.index(after: slash) != rest.endIndex else {
            throw S3Error.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
        }
        return S3CopySource(bucket: String(rest[..<slash]), key: String(rest[rest.index(after: slash)...]))
    }

    /// Reads `x-amz-copy-source-range: bytes=first-last` (both offsets, inclusive, as S3
    /// requires) against a source of `size` bytes.
    public static func range(_ header: String, size: Int) throws(S3Error) -> Range<Int> {
        let form = "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        guard header.hasPrefix("bytes=") else { throw S3Error.invalidArgument(form) }
        let bounds = header.dropFirst("bytes=".count).split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = Int(bounds[0]), let last = Int(bounds[1]), first >= 0, first <= last else {
            throw S3Error.invalidArgument(form)
        }
        guard last < size else {
            throw S3Error.invalidArgument("Range specified is not valid for source object of size: \(size)")
        }
        return first..<(last + 1)
    }
}

/// The `x-amz-copy-source-if-*` conditions, checked against the source's ETag and
/// Last-Modified with S3's precedence: a matching If-Match overrides If-Unmodified-Since, a
/// non-matching If-None-Match overrides If-Modified-Since.
public struct S3CopyConditions: Sendable, Equatable {
    public var ifMatch: String?
    public var ifNoneMatch: String?
    public var ifModifiedSince: Date?
    public var ifUnmodifiedSince: Date?

    public init(ifMatch: String? = nil, ifNoneMatch: String? = nil, ifModifiedSince: Date? = nil, ifUnmodifiedSince: Date? = nil) {
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.ifModifiedSince = ifModifiedSince
        self.ifUnmodifiedSince = ifUnmodifiedSince
    }

    /// The conditions among `headers` (names in any case); a date that cannot be read is
    /// ignored, as S3 ignores it.
    public init(headers: [(name: String, value: String)]) {
        for (name, value) in headers {
            switch name.lowercased() {
            case "x-amz-copy-source-if-match": ifMatch = value
            case "x-amz-copy-source-if-none-match": ifNoneMatch = value
            case "x-amz-copy-source-if-modified-since": ifModifiedSince = S3Time.parseHTTPDate(value)
            case "x-amz-copy-source-if-unmodified-since": ifUnmodifiedSince = S3Time.parseHTTPDate(value)
            default: break
            }
        }
    }

    /// Throws PreconditionFailed unless the source (`etag`, quoted or not; `lastModified`,
    /// compared at whole seconds, the resolution of the headers) may be copied.
    public func check(etag: String, lastModified: Date) throws(S3Error) {
        let seconds = lastModified.timeIntervalSince1970.rounded(.down)
        if let ifMatch {
            guard Self.matches(ifMatch, etag) else { throw S3Error.preconditionFailed() }
        } else if let ifUnmodifiedSince, seconds > ifUnmodifiedSince.timeIntervalSince1970 {
            throw S3Error.preconditionFailed()
        }
        if let ifNoneMatch {
            guard !Self.matches(ifNoneMatch, etag) else { throw S3Error.preconditionFailed() }
        } else if let ifModifiedSince, seconds <= ifModifiedSince.timeIntervalSince1970 {
            throw S3Error.preconditionFailed()
        }
    }

    /// Whether a condition's list of ETags (`"a", "b"` or `*`) names `etag`.
    static func matches(_ condition: String, _ etag: String) -> Bool {
        let bare = unquoted(Substring(etag))
        return condition.split(separator: ",").contains { candidate in
            let trimmed = candidate.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
            let text = Substring(String(trimmed))
            return text == "*" || unquoted(text) == bare
        }
    }

    private static func unquoted(_ text: Substring) -> Substring {
        var text = text
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        if text.count >= 2, text.first == "\"", text.last == "\"" { text = text.dropFirst().dropLast() }
        return text
    }
}
