import struct Foundation.Date

/// A part in ListPartsResult.
public struct S3PartEntry: Sendable, Equatable {
    public var partNumber: Int
    public var lastModified: Date
    public var etag: String
    public var size: Int64

    public init(partNumber: Int, lastModified: Date, etag: String, size: Int64) {
        self.partNumber = partNumber
        self.lastModified = lastModified
        self.etag = etag
        self.size = size
    }
}

/// What ListParts answers.
public struct S3ListPartsResult: Sendable {
    public var bucket: String
    public var key: String
    public var uploadID: String
    public var owner: S3Owner
    public var partNumberMarker: Int
    public var nextPartNumberMarker: Int?
    public var maxParts: Int
    public var isTruncated: Bool
    public var parts: [S3PartEntry]

    public init(bucket: String, key: String, uploadID: String, owner: S3Owner, partNumberMarker: Int = 0,
                nextPartNumberMarker: Int? = nil, maxParts: Int = 1000, isTruncated: Bool = false, parts: [S3PartEntry]) {
        self.bucket = bucket
        self.key = key
        self.uploadID = uploadID
        self.owner = owner
        self.partNumberMarker = partNumberMarker
        self.nextPartNumberMarker = nextPartNumberMarker
        self.maxParts = maxParts
        self.isTruncated = isTruncated
        self.parts = parts
    }
}

/// An upload in ListMultipartUploadsResult.
public struct S3UploadEntry: Sendable, Equatable {
    public var key: String
    public var uploadID: String
    public var initiated: Date

    public init(key: String, uploadID: String, initiated: Date) {
        self.key = key
        self.uploadID = uploadID
        self.initiated = initiated
    }
}

/// What ListMultipartUploads answers.
public struct S3ListMultipartUploadsResult: Sendable {
    public var bucket: String
    public var owner: S3Owner
    public var keyMarker: String
    public var uploadIDMarker: String
    public var nextKeyMarker: String?
    public var nextUploadIDMarker: String?
    public var prefix: String
    public var delimiter: String?
    public var maxUploads: Int
    public var isTruncated: Bool
    public var uploads: [S3UploadEntry]
    public var commonPrefixes: [String]
    public var encodeURL: Bool

    public init(bucket: String, owner: S3Owner, keyMarker: String = "", uploadIDMarker: String = "", nextKeyMarker: String? = nil,
                nextUploadIDMarker: String? = nil, prefix: String = "", delimiter: String? = nil, maxUploads: Int = 1000,
                isTruncated: Bool = false, uploads: [S3UploadEntry], commonPrefixes: [String] = [], encodeURL: Bool = false) {
        self.bucket = bucket
        self.owner = owner
        self.keyMarker = keyMarker
        self.uploadIDMarker = uploadIDMarker
        self.nextKeyMarker = nextKeyMarker
        self.nextUploadIDMarker = nextUploadIDMarker
        self.prefix = prefix
        self.delimiter = delimiter
        self.maxUploads = maxUploads
        self.isTruncated = isTruncated
        self.uploads = uploads
        self.commonPrefixes = commonPrefixes
        self.encodeURL = encodeURL
    }
}

/// One key's outcome in DeleteResult.
public enum S3DeleteOutcome: Sendable, Equatable {
    /// Deleted (also a key that did not exist, as S3 reports it).
    case deleted(key: String)
    /// Not deleted, with S3's code and message.
    case failed(key: String, code: String, message: String)
}

extension S3XML {
    /// CreateMultipartUpload's answer.
    public static func initiateMultipartUpload(bucket: String, key: String, uploadID: String) -> String {
        declaration + "<InitiateMultipartUploadResult xmlns=\"\(namespace)\">" + element("Bucket", bucket) + element("Key", key)
            + element("UploadId", uploadID) + "</InitiateMultipartUploadResult>"
    }

    /// CompleteMultipartUpload's answer; `location` is the object's URL.
    public static func completeMultipartUpload(location: String, bucket: String, key: String, etag: String) -> String {
        declaration + "<CompleteMultipartUploadResult xmlns=\"\(namespace)\">" + element("Location", location)
            + element("Bucket", bucket) + element("Key", key) + etagElement(etag) + "</CompleteMultipartUploadResult>"
    }

    /// ListParts' answer.
    public static func listParts(_ result: S3ListPartsResult) -> String {
        var xml = declaration + "<ListPartsResult xmlns=\"\(namespace)\">" + element("Bucket", result.bucket) + element("Key", result.key)
            + element("UploadId", result.uploadID)
        xml += "<Initiator>" + element("ID", result.owner.id) + element("DisplayName", result.owner.displayName) + "</Initiator>"
        xml += ownerElement(result.owner) + element("StorageClass", "STANDARD")
        xml += element("PartNumberMarker", String(result.partNumberMarker))
        if let next = result.nextPartNumberMarker { xml += element("NextPartNumberMarker", String(next)) }
        xml += element("MaxParts", String(result.maxParts)) + element("IsTruncated", String(result.isTruncated))
        for part in result.parts {
            xml += "<Part>" + element("PartNumber", String(part.partNumber))
                + element("LastModified", S3Time.iso8601Milliseconds(part.lastModified)) + etagElement(part.etag)
                + element("Size", String(part.size)) + "</Part>"
        }
        return xml + "</ListPartsResult>"
    }

    /// ListMultipartUploads' answer.
    public static func listMultipartUploads(_ result: S3ListMultipartUploadsResult) -> String {
        let encode = encoder(result.encodeURL)
        var xml = declaration + "<ListMultipartUploadsResult xmlns=\"\(namespace)\">" + element("Bucket", result.bucket)
            + element("KeyMarker", encode(result.keyMarker)) + element("UploadIdMarker", result.uploadIDMarker)
        if let next = result.nextKeyMarker { xml += element("NextKeyMarker", encode(next)) }
        if let next = result.nextUploadIDMarker { xml += element("NextUploadIdMarker", next) }
        xml += element("Prefix", encode(result.prefix))
        if let delimiter = result.delimiter { xml += element("Delimiter", encode(delimiter)) }
        if result.encodeURL { xml += element("EncodingType", "url") }
        xml += element("MaxUploads", String(result.maxUploads)) + element("IsTruncated", String(result.isTruncated))
        for upload in result.uploads {
            xml += "<Upload>" + element("Key", encode(upload.key)) + element("UploadId", upload.uploadID)
            xml += "<Initiator>" + element("ID", result.owner.id) + element("DisplayName", result.owner.displayName) + "</Initiator>"
            xml += ownerElement(result.owner) + element("StorageClass", "STANDARD")
                + element("Initiated", S3Time.iso8601Milliseconds(upload.initiated)) + "</Upload>"
        }
        for prefix in result.commonPrefixes {
            xml += "<CommonPrefixes>" + element("Prefix", encode(prefix)) + "</CommonPrefixes>"
        }
        return xml + "</ListMultipartUploadsResult>"
    }

    /// DeleteObjects' answer. In quiet mode S3 reports only the failures.
    public static func deleteResult(_ outcomes: [S3DeleteOutcome], quiet: Bool) -> String {
        var xml = declaration + "<DeleteResult xmlns=\"\(namespace)\">"
        for outcome in outcomes {
            switch outcome {
            case .deleted(let key):
                if !quiet { xml += "<Deleted>" + element("Key", key) + "</Deleted>" }
            case .failed(let key, let code, let message):
                xml += "<Error>" + element("Key", key) + element("Code", code) + element("Message", message) + "</Error>"
            }
        }
        return xml + "</DeleteResult>"
    }

    /// CopyObject's answer.
    public static func copyObjectResult(etag: String, lastModified: Date) -> String {
        declaration + "<CopyObjectResult xmlns=\"\(namespace)\">" + element("LastModified", S3Time.iso8601Milliseconds(lastModified))
            + etagElement(etag) + "</CopyObjectResult>"
    }

    /// UploadPartCopy's answer.
    public static func copyPartResult(etag: String, lastModified: Date) -> String {
        declaration + "<CopyPartResult xmlns=\"\(namespace)\">" + element("LastModified", S3Time.iso8601Milliseconds(lastModified))
            + etagElement(etag) + "</CopyPartResult>"
    }
}
