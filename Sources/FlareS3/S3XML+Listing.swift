import struct Foundation.Date

/// The owner S3 names in listings; Flare has one, whose id and display name are the caller's.
public struct S3Owner: Sendable, Equatable {
    public var id: String
    public var displayName: String

    public init(id: String, displayName: String) {
        self.id = id
        self.displayName = displayName
    }
}

/// A bucket in ListAllMyBucketsResult.
public struct S3BucketEntry: Sendable, Equatable {
    public var name: String
    public var creationDate: Date

    public init(name: String, creationDate: Date) {
        self.name = name
        self.creationDate = creationDate
    }
}

/// An object in a ListBucketResult's `Contents`.
public struct S3ObjectEntry: Sendable, Equatable {
    public var key: String
    public var lastModified: Date
    /// The ETag with or without its double quotes (rendered quoted).
    public var etag: String
    public var size: Int64
    /// Rendered as `<Owner>` when set (v1 always; v2 with `fetch-owner=true`).
    public var owner: S3Owner?

    public init(key: String, lastModified: Date, etag: String, size: Int64, owner: S3Owner? = nil) {
        self.key = key
        self.lastModified = lastModified
        self.etag = etag
        self.size = size
        self.owner = owner
    }
}

/// What ListObjectsV2 answers.
public struct S3ListObjectsV2Result: Sendable {
    public var bucket: String
    public var prefix: String
    public var delimiter: String?
    public var maxKeys: Int
    public var startAfter: String?
    public var continuationToken: String?
    public var nextContinuationToken: String?
    public var isTruncated: Bool
    public var contents: [S3ObjectEntry]
    public var commonPrefixes: [String]
    /// `encoding-type=url` was asked: keys, prefixes, delimiter and start-after are URL-encoded.
    public var encodeURL: Bool

    public init(bucket: String, prefix: String = "", delimiter: String? = nil, maxKeys: Int = 1000, startAfter: String? = nil,
                continuationToken: String? = nil, nextContinuationToken: String? = nil, isTruncated: Bool = false,
                contents: [S3ObjectEntry] = [], commonPrefixes: [String] = [], encodeURL: Bool = false) {
        self.bucket = bucket
        self.prefix = prefix
        self.delimiter = delimiter
        self.maxKeys = maxKeys
        self.startAfter = startAfter
        self.continuationToken = continuationToken
        self.nextContinuationToken = nextContinuationToken
        self.isTruncated = isTruncated
        self.contents = contents
        self.commonPrefixes = commonPrefixes
        self.encodeURL = encodeURL
    }
}

/// What ListObjects (v1) answers.
public struct S3ListObjectsV1Result: Sendable {
    public var bucket: String
    public var prefix: String
    public var delimiter: String?
    public var maxKeys: Int
    public var marker: String
    /// Sent when truncated with a delimiter: clients (awscli) need it to go on, since the last
    /// key is not the resume point when the page ended on a common prefix.
    public var nextMarker: String?
    public var isTruncated: Bool
    public var contents: [S3ObjectEntry]
    public var commonPrefixes: [String]
    public var encodeURL: Bool

    public init(bucket: String, prefix: String = "", delimiter: String? = nil, maxKeys: Int = 1000, marker: String = "",
                nextMarker: String? = nil, isTruncated: Bool = false, contents: [S3ObjectEntry] = [],
                commonPrefixes: [String] = [], encodeURL: Bool = false) {
        self.bucket = bucket
        self.prefix = prefix
        self.delimiter = delimiter
        self.maxKeys = maxKeys
        self.marker = marker
        self.nextMarker = nextMarker
        self.isTruncated = isTruncated
        self.contents = contents
        self.commonPrefixes = commonPrefixes
        self.encodeURL = encodeURL
    }
}

extension S3XML {
    /// ListBuckets' answer.
    public static func listAllMyBuckets(owner: S3Owner, buckets: [S3BucketEntry]) -> String {
        var xml = declaration + "<ListAllMyBucketsResult xmlns=\"\(namespace)\">" + ownerElement(owner) + "<Buckets>"
        for bucket in buckets {
            xml += "<Bucket>" + element("Name", bucket.name)
                + element("CreationDate", S3Time.iso8601Milliseconds(bucket.creationDate)) + "</Bucket>"
        }
        return xml + "</Buckets></ListAllMyBucketsResult>"
    }

    /// ListObjectsV2's answer. `KeyCount` counts contents and common prefixes, as S3 does.
    public static func listObjectsV2(_ result: S3ListObjectsV2Result) -> String {
        let encode = encoder(result.encodeURL)
        var xml = declaration + "<ListBucketResult xmlns=\"\(namespace)\">"
        xml += element("Name", result.bucket) + element("Prefix", encode(result.prefix))
        if let token = result.continuationToken { xml += element("ContinuationToken", token) }
        if let token = result.nextContinuationToken { xml += element("NextContinuationToken", token) }
        if let startAfter = result.startAfter { xml += element("StartAfter", encode(startAfter)) }
        xml += element("KeyCount", String(result.contents.count + result.commonPrefixes.count))
        xml += element("MaxKeys", String(result.maxKeys))
        if let delimiter = result.delimiter { xml += element("Delimiter", encode(delimiter)) }
        if result.encodeURL { xml += element("EncodingType", "url") }
        xml += element("IsTruncated", String(result.isTruncated))
        xml += listingEntries(result.contents, commonPrefixes: result.commonPrefixes, encode: encode)
        return xml + "</ListBucketResult>"
    }

    /// ListObjects' (v1) answer.
    public static func listObjectsV1(_ result: S3ListObjectsV1Result) -> String {
        let encode = encoder(result.encodeURL)
        var xml = declaration + "<ListBucketResult xmlns=\"\(namespace)\">"
        xml += element("Name", result.bucket) + element("Prefix", encode(result.prefix)) + element("Marker", encode(result.marker))
        if let nextMarker = result.nextMarker { xml += element("NextMarker", encode(nextMarker)) }
        xml += element("MaxKeys", String(result.maxKeys))
        if let delimiter = result.delimiter { xml += element("Delimiter", encode(delimiter)) }
        if result.encodeURL { xml += element("EncodingType", "url") }
        xml += element("IsTruncated", String(result.isTruncated))
        xml += listingEntries(result.contents, commonPrefixes: result.commonPrefixes, encode: encode)
        return xml + "</ListBucketResult>"
    }

    static func listingEntries(_ contents: [S3ObjectEntry], commonPrefixes: [String], encode: (String) -> String) -> String {
        var xml = ""
        for entry in contents {
            xml += "<Contents>" + element("Key", encode(entry.key))
                + element("LastModified", S3Time.iso8601Milliseconds(entry.lastModified))
                + etagElement(entry.etag) + element("Size", String(entry.size))
            if let owner = entry.owner { xml += ownerElement(owner) }
            xml += element("StorageClass", "STANDARD") + "</Contents>"
        }
        for prefix in commonPrefixes {
            xml += "<CommonPrefixes>" + element("Prefix", encode(prefix)) + "</CommonPrefixes>"
        }
        return xml
    }

    /// `encoding-type=url`: keys percent-encoded so that any byte survives XML. botocore undoes
    /// it with `unquote_plus`, so a space must be `%20` and a plus `%2B`, as written here; `/` is
    /// left as it is.
    static func encoder(_ encodeURL: Bool) -> (String) -> String {
        encodeURL ? { S3URIEncoding.encode($0, keepSlash: true) } : { $0 }
    }

    static func ownerElement(_ owner: S3Owner) -> String {
        "<Owner>" + element("ID", owner.id) + element("DisplayName", owner.displayName) + "</Owner>"
    }

    /// GET ?location's answer; nil or empty renders the empty element S3 sends for us-east-1.
    public static func locationConstraint(_ region: String?) -> String {
        guard let region, !region.isEmpty else { return declaration + "<LocationConstraint xmlns=\"\(namespace)\"/>" }
        return declaration + "<LocationConstraint xmlns=\"\(namespace)\">\(escape(region))</LocationConstraint>"
    }

    /// GET ?versioning's answer for a bucket whose versioning was never enabled.
    public static func versioningConfiguration() -> String {
        declaration + "<VersioningConfiguration xmlns=\"\(namespace)\"/>"
    }

    /// GetBucketAcl / GetObjectAcl as Flare has it: the owner, with full control, and no one
    /// else (every request is signed with one of the keys; there are no grants to other users).
    /// The owner with full control and, for a `public-read` bucket (`publicRead`), everyone
    /// with READ (S3's AllUsers group).
    public static func accessControlPolicy(owner: S3Owner, publicRead: Bool = false) -> String {
        let id = element("ID", owner.id) + element("DisplayName", owner.displayName)
        let everyone = publicRead
            ? "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">"
                + element("URI", allUsersGroup) + "</Grantee><Permission>READ</Permission></Grant>"
            : ""
        return declaration + "<AccessControlPolicy xmlns=\"\(namespace)\"><Owner>" + id + "</Owner><AccessControlList>"
            + "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">" + id
            + "</Grantee><Permission>FULL_CONTROL</Permission></Grant>" + everyone + "</AccessControlList></AccessControlPolicy>"
    }

    /// S3's group of every requester, signed or not.
    public static let allUsersGroup = "http://acs.amazonaws.com/groups/global/AllUsers"
}
