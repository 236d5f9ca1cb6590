/// How a message's body is delimited (RFC 9112 §6).
public enum HTTPBodyFraming: Sendable, Equatable {
    /// Exactly this many bytes (0 for no body).
    case length(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
    /// Until the peer closes (responses only, without length or chunking).
    case untilClose

    /// The framing of a request, refusing the shapes used for request smuggling.
    public static func forRequest(_ head: HTTPRequestHead) throws(HTTPParseError) -> HTTPBodyFraming {
        let encodings = head.headers.values("Transfer-Encoding")
        let lengths = head.headers.values("Content-Length")
        if !encodings.isEmpty {
            if !lengths.isEmpty { throw HTTPParseError(status: 400, "both Content-Length and Transfer-Encoding") }
            if head.version == .http10 { throw HTTPParseError(status: 400, "Transfer-Encoding in an HTTP/1.0 request") }
            return try chunked(encodings)
        }
        return .length(try contentLength(lengths) ?? 0)
    }

    /// The framing of a response to a request with `method`.
    public static func forResponse(_ head: HTTPResponseHead, method: String) throws(HTTPParseError) -> HTTPBodyFraming {
        if method == "HEAD" || head.status / 100 == 1 || head.status == 204 || head.status == 304 { return .length(0) }
        let encodings = head.headers.values("Transfer-Encoding")
        if !encodings.isEmpty { return try chunked(encodings) }
        if let length = try contentLength(head.headers.values("Content-Length")) { return .length(length) }
        return .untilClose
    }

    private static func chunked(_ encodings: [String]) throws(HTTPParseError) -> HTTPBodyFraming {
        let codings = encodings.flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces() }
        guard codings.count == 1, codings[0].equalsIgnoringASCIICase("chunked") else {
            if codings.last.map({ $0.equalsIgnoringASCIICase("chunked") }) != true {
                throw HTTPParseError(status: 400, "Transfer-Encoding must end with chunked")
            }
            throw HTTPParseError(status: 501, "transfer codings other than chunked are not supported")
        }
        return .chunked
    }

    /// The single Content-Length in `values`; repeated identical values are one value.
    private static func contentLength(_ values: [String]) throws(HTTPParseError) -> Int? {
        var result: Int?
        for part in values.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
            let text = part.trimmingSpaces()
            guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let value = Int(text) else {
                throw HTTPParseError(status: 400, "invalid Content-Length")
            }
            if let result, result != value { throw HTTPParseError(status: 400, "conflicting Content-Length values") }
            result = value
        }
        return result
    }
}
