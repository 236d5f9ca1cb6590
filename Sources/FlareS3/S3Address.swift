import FlareCore

/// The bucket and key a request names, from its path and Host.
public struct S3Address: Sendable, Equatable {
    /// The bucket, or nil for the service itself (ListBuckets).
    public var bucket: String?
    /// The key, percent-decoded, or nil for the bucket itself.
    public var key: String?

    /// An address from its parts.
    public init(bucket: String?, key: String?) {
        self.bucket = bucket
        self.key = key
    }

    /// Reads the address of a request.
    ///
    /// Virtual-host style when `host` is `<bucket>.<baseDomain>` (port ignored, case-insensitive):
    /// the bucket is the host's part before the domain (it may contain dots) and the whole path is
    /// the key. Otherwise path style: `/bucket/key…`. The key is percent-decoded (`+` stays a
    /// plus, as S3 reads paths); a trailing `/` is part of it. The bucket name is not validated
    /// here: CreateBucket answers `InvalidBucketName`, other operations `NoSuchBucket`.
    /// - Parameter path: the request target; a query after `?` is ignored.
    /// - Throws: `InvalidArgument` for a target not starting with `/` or a key that is not a valid
    ///   key (malformed escape, not UTF-8, control characters), `KeyTooLongError` past 1024 bytes.
    public static func parse(target path: String, host: String?, baseDomain: String?) throws(S3Error) -> S3Address {
        let rawPath = path.firstIndex(of: "?").map { path[..<$0] } ?? path[...]
        guard rawPath.first == "/" else { throw .invalidArgument("The request target must start with '/'") }
        let afterSlash = rawPath.dropFirst()
        if let host, let bucket = virtualHostBucket(host: host, baseDomain: baseDomain) {
            return S3Address(bucket: bucket, key: try decodeKey(afterSlash))
        }
        guard !afterSlash.isEmpty else { return S3Address(bucket: nil, key: nil) }
        let slash = afterSlash.firstIndex(of: "/")
        let bucket = S3URIEncoding.decode(slash.map { afterSlash[..<$0] } ?? afterSlash)
        let key = try slash.map { slash throws(S3Error) in try decodeKey(afterSlash[afterSlash.index(after: slash)...]) } ?? nil
        return S3Address(bucket: bucket, key: key)
    }

    /// The bucket of a virtual-host-style Host, `<bucket>.<baseDomain>[:port]`; nil for any other.
    static func virtualHostBucket(host: String, baseDomain: String?) -> String? {
        guard let baseDomain, !baseDomain.isEmpty else { return nil }
        var name = host.lowercased()
        if let colon = name.lastIndex(of: ":"), !name.hasSuffix("]") { name = String(name[..<colon]) }
        let suffix = "." + baseDomain.lowercased()
        guard name.hasSuffix(suffix), name.count > suffix.count else { return nil }
        return String(name.dropLast(suffix.count))
    }

    private static func decodeKey(_ raw: Substring) throws(S3Error) -> String? {
        guard !raw.isEmpty else { return nil }
        do {
            return try ObjectKey.decode(raw)
        } catch {
            throw keyError(error)
        }
    }

    /// What S3 answers for a key that is not one: `KeyTooLongError` past 1024 bytes, else
    /// `InvalidArgument` with the reason.
    public static func keyError(_ error: ObjectKey.Invalid) -> S3Error {
        if error.reason.hasPrefix("key longer") { return S3Error(status: 400, code: "KeyTooLongError", message: "Your key is too long") }
        return .invalidArgument("Invalid object key: \(error.reason)")
    }
}
