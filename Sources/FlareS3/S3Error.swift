/// A failure S3 reports to its client: the HTTP status, S3's error code and a message, rendered
/// as S3's error XML. Every code a client branches on is spelled exactly as S3 spells it.
public struct S3Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status of the answer (403, 404, …).
    public let status: Int
    /// S3's error code (`SignatureDoesNotMatch`, `NoSuchKey`, …): what SDKs map to exceptions.
    public let code: String
    /// A human-readable explanation; clients print it, none parses it.
    public let message: String

    /// An error with any status, code and message.
    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status) \(code): \(message)" }

    /// The error document S3 sends as the body of a failed request.
    /// - Parameters:
    ///   - resource: the bucket or object the request named (`/bucket/key`).
    ///   - requestID: the id sent in `x-amz-request-id`, so a log line can be found from it.
    public func xml(resource: String, requestID: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>\(S3XML.escape(code))</Code>"
            + "<Message>\(S3XML.escape(message))</Message><Resource>\(S3XML.escape(resource))</Resource>"
            + "<RequestId>\(S3XML.escape(requestID))</RequestId></Error>"
    }
}

// Authentication failures.
extension S3Error {
    /// 403: the signature computed with the key's secret differs from the one sent.
    public static func signatureDoesNotMatch(_ message: String = "The request signature we calculated does not match the signature you provided. Check your key and signing method.") -> S3Error {
        S3Error(status: 403, code: "SignatureDoesNotMatch", message: message)
    }
    /// 403: the access key is not in the credentials file.
    public static func invalidAccessKeyId(_ message: String = "The AWS Access Key Id you provided does not exist in our records.") -> S3Error {
        S3Error(status: 403, code: "InvalidAccessKeyId", message: message)
    }
    /// 403: the request's date is further from the server's clock than the skew allowed.
    public static func requestTimeTooSkewed(_ message: String = "The difference between the request time and the current time is too large.") -> S3Error {
        S3Error(status: 403, code: "RequestTimeTooSkewed", message: message)
    }
    /// 403: refused for another reason (a presigned URL expired or not yet valid, unsigned headers).
    public static func accessDenied(_ message: String = "Access Denied") -> S3Error {
        S3Error(status: 403, code: "AccessDenied", message: message)
    }
    /// 400: the `Authorization` header cannot be read (or names the wrong region or service).
    public static func authorizationHeaderMalformed(_ message: String) -> S3Error {
        S3Error(status: 400, code: "AuthorizationHeaderMalformed", message: message)
    }
    /// 400: a presigned URL's `X-Amz-*` parameters cannot be read.
    public static func authorizationQueryParametersError(_ message: String) -> S3Error {
        S3Error(status: 400, code: "AuthorizationQueryParametersError", message: message)
    }
    /// 400: an argument of the request is invalid.
    public static func invalidArgument(_ message: String) -> S3Error {
        S3Error(status: 400, code: "InvalidArgument", message: message)
    }
    /// 400: the request lacks something it needs (such as `x-amz-content-sha256`).
    public static func invalidRequest(_ message: String) -> S3Error {
        S3Error(status: 400, code: "InvalidRequest", message: message)
    }
}

// What the S3 operations answer with.
extension S3Error {
    /// 404: the bucket does not exist.
    public static func noSuchBucket(_ message: String = "The specified bucket does not exist") -> S3Error {
        S3Error(status: 404, code: "NoSuchBucket", message: message)
    }
    /// 404: the key does not exist.
    public static func noSuchKey(_ message: String = "The specified key does not exist.") -> S3Error {
        S3Error(status: 404, code: "NoSuchKey", message: message)
    }
    /// 404: the multipart upload does not exist (aborted, completed or expired).
    public static func noSuchUpload(_ message: String = "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.") -> S3Error {
        S3Error(status: 404, code: "NoSuchUpload", message: message)
    }
    /// 409: CreateBucket of a bucket that already exists (there is one owner, so it is always yours).
    public static func bucketAlreadyOwnedByYou(_ message: String = "Your previous request to create the named bucket succeeded and you already own it.") -> S3Error {
        S3Error(status: 409, code: "BucketAlreadyOwnedByYou", message: message)
    }
    /// 409: DeleteBucket of a bucket that still holds objects.
    public static func bucketNotEmpty(_ message: String = "The bucket you tried to delete is not empty") -> S3Error {
        S3Error(status: 409, code: "BucketNotEmpty", message: message)
    }
    /// 400: the bucket name breaks S3's naming rules (`S3BucketName.isValid`).
    public static func invalidBucketName(_ message: String = "The specified bucket is not valid.") -> S3Error {
        S3Error(status: 400, code: "InvalidBucketName", message: message)
    }
    /// 416: the `Range` asked for lies outside the object.
    public static func invalidRange(_ message: String = "The requested range is not satisfiable") -> S3Error {
        S3Error(status: 416, code: "InvalidRange", message: message)
    }
    /// 405: the method is not allowed on this resource.
    public static func methodNotAllowed(_ message: String = "The specified method is not allowed against this resource.") -> S3Error {
        S3Error(status: 405, code: "MethodNotAllowed", message: message)
    }
    /// 501: an S3 feature Flare does not provide.
    public static func notImplemented(_ message: String = "A header you provided implies functionality that is not implemented.") -> S3Error {
        S3Error(status: 501, code: "NotImplemented", message: message)
    }
    /// 400: the body does not match its `Content-MD5` or `x-amz-checksum-*`.
    public static func badDigest(_ message: String = "The Content-MD5 or checksum value that you specified did not match what the server received.") -> S3Error {
        S3Error(status: 400, code: "BadDigest", message: message)
    }
    /// 400: the body does not match the hex SHA-256 of `x-amz-content-sha256`.
    public static func xAmzContentSHA256Mismatch(_ message: String = "The provided 'x-amz-content-sha256' header does not match what was computed.") -> S3Error {
        S3Error(status: 400, code: "XAmzContentSHA256Mismatch", message: message)
    }
    /// 400: `Content-MD5` (or a checksum header) is not a valid base64 digest.
    public static func invalidDigest(_ message: String = "The Content-MD5 you specified is not valid.") -> S3Error {
        S3Error(status: 400, code: "InvalidDigest", message: message)
    }
    /// 400: a request body's XML is not well-formed or not of the expected shape.
    public static func malformedXML(_ message: String = "The XML you provided was not well-formed or did not validate against our published schema.") -> S3Error {
        S3Error(status: 400, code: "MalformedXML", message: message)
    }
    /// 500: Flare failed; the client may retry.
    public static func internalError(_ message: String = "We encountered an internal error. Please try again.") -> S3Error {
        S3Error(status: 500, code: "InternalError", message: message)
    }
    /// 400: the body is larger than allowed (5 GiB for one PUT).
    public static func entityTooLarge(_ message: String = "Your proposed upload exceeds the maximum allowed object size.") -> S3Error {
        S3Error(status: 400, code: "EntityTooLarge", message: message)
    }
    /// 400: a part named by CompleteMultipartUpload was not uploaded, or its ETag differs.
    public static func invalidPart(_ message: String = "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.") -> S3Error {
        S3Error(status: 400, code: "InvalidPart", message: message)
    }
    /// 400: CompleteMultipartUpload's parts are not in ascending order.
    public static func invalidPartOrder(_ message: String = "The list of parts was not in ascending order. The parts list must be specified in order by part number.") -> S3Error {
        S3Error(status: 400, code: "InvalidPartOrder", message: message)
    }
    /// 400: a part other than the last is smaller than 5 MiB.
    public static func entityTooSmall(_ message: String = "Your proposed upload is smaller than the minimum allowed object size.") -> S3Error {
        S3Error(status: 400, code: "EntityTooSmall", message: message)
    }
}

// Copies.
extension S3Error {
    /// 412: an `x-amz-copy-source-if-*` condition did not hold.
    public static func preconditionFailed(_ message: String = "At least one of the pre-conditions you specified did not hold") -> S3Error {
        S3Error(status: 412, code: "PreconditionFailed", message: message)
    }
}
