// Flare writes its own HTTP/1.1 codec instead of using NIOHTTP1 (llhttp): the data path must
// receive body bytes straight into chunk buffers that the caller owns (page-aligned, from the
// pool, later written with O_DIRECT), which a codec that hands out its own buffers cannot do
// without a copy. The head parser is small, strict and pure (no I/O), and fuzzed.

/// Strict parser for request and response heads (RFC 9112), over bytes already received.
///
/// It accepts only what well-behaved clients send: CRLF line ends, token methods and field
/// names, no whitespace before a colon, no obs-fold, no control characters in values.
/// Anything else is refused with the status to answer, and the caller closes the connection.
public enum HTTPHeadParser {
    /// The outcome of looking at the bytes received so far.
    public enum Result<Head> {
        /// More bytes are needed (and the limits allow them).
        case incomplete
        /// A whole head was parsed; `consumed` bytes belong to it, the rest is body.
        case complete(Head, consumed: Int)
        case failed(HTTPParseError)
    }

    /// Parses a request head at the start of `bytes`.
    public static func parseRequest(_ bytes: UnsafeRawBufferPointer, limits: HTTPLimits = HTTPLimits()) -> Result<HTTPRequestHead> {
        switch findHeadEnd(bytes, limits: limits) {
        case .incomplete: return .incomplete
        case .failed(let error): return .failed(error)
        case .complete(let end):
            do throws(HTTPParseError) {
                var lines = LineReader(bytes: bytes, end: end)
                let (head, authority) = try parseRequestLine(lines.next()!, limits: limits)
                var request = head
                request.headers = try parseFields(&lines, limits: limits)
                try validateRequest(request)
                // RFC 9112 §3.2.2: with an absolute-form target, its authority is the host and
                // the Host field is replaced by it.
                if let authority { request.headers.set("Host", authority) }
                return .complete(request, consumed: end)
            } catch {
                return .failed(error)
            }
        }
    }

    /// Parses a response head at the start of `bytes`.
    public static func parseResponse(_ bytes: UnsafeRawBufferPointer, limits: HTTPLimits = HTTPLimits()) -> Result<HTTPResponseHead> {
        switch findHeadEnd(bytes, limits: limits) {
        case .incomplete: return .incomplete
        case .failed(let error): return .failed(error)
        case .complete(let end):
            do throws(HTTPParseError) {
                var lines = LineReader(bytes: bytes, end: end)
                var head = try parseStatusLine(lines.next()!)
                head.headers = try parseFields(&lines, limits: limits)
                return .complete(head, consumed: end)
            } catch {
                return .failed(error)
            }
        }
    }

    // MARK: - Head boundary

    private enum Boundary {
        case incomplete
        case complete(end: Int)
        case failed(HTTPParseError)
    }

    /// Finds the CRLF CRLF that ends the head, refusing bare CR or LF on the way.
    private static func findHeadEnd(_ bytes: UnsafeRawBufferPointer, limits: HTTPLimits) -> Boundary {
        var index = 0
        // Tolerate (RFC 9112 §2.2) empty lines before a request line, e.g. after a previous body.
        while index + 1 < bytes.count && bytes[index] == cr && bytes[index + 1] == lf { index += 2 }
        var lineStart = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == lf {
                return .failed(HTTPParseError(status: 400, "bare LF in head"))
            }
            if byte == cr {
                guard index + 1 < bytes.count else { break }
                guard bytes[index + 1] == lf else { return .failed(HTTPParseError(status: 400, "bare CR in head")) }
                if index == lineStart && lineStart > 0 {
                    return index + 2 > limits.headBytesMax
                        ? .failed(HTTPParseError(status: 431, "head larger than \(limits.headBytesMax) bytes"))
                        : .complete(end: index + 2)
                }
                index += 2
                lineStart = index
                continue
            }
            index += 1
        }
        if bytes.count >= limits.headBytesMax {
            return .failed(HTTPParseError(status: 431, "head larger than \(limits.headBytesMax) bytes"))
        }
        return .incomplete
    }

    // MARK: - Lines

    private struct LineReader {
        let bytes: UnsafeRawBufferPointer
        let end: Int
        var position = 0

        init(bytes: UnsafeRawBufferPointer, end: Int) {
            self.bytes = bytes
            self.end = end
            while position + 1 < end && bytes[position] == cr && bytes[position + 1] == lf { position += 2 }
        }

        /// The next line without its CRLF; `nil` at the empty line that ends the head.
        mutating func next() -> UnsafeRawBufferPointer? {
            var index = position
            while index + 1 < end && !(bytes[index] == cr && bytes[index + 1] == lf) { index += 1 }
            let line = UnsafeRawBufferPointer(rebasing: bytes[position..<index])
            position = index + 2
            return line.isEmpty ? nil : line
        }
    }

    /// The request line, an absolute-form target (`http://host/path`, what proxies and some
    /// clients send; RFC 9112 says a server must accept it) turned into its origin-form path
    /// and authority.
    private static func parseRequestLine(_ line: UnsafeRawBufferPointer, limits: HTTPLimits) throws(HTTPParseError)
        -> (HTTPRequestHead, authority: String?) {
        let parts = line.split(separator: space, maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw HTTPParseError(status: 400, "malformed request line") }
        let method = parts[0], target = parts[1], version = parts[2]
        guard !method.isEmpty, method.allSatisfy(isTokenByte) else { throw HTTPParseError(status: 400, "invalid method") }
        guard !target.isEmpty else { throw HTTPParseError(status: 400, "empty request target") }
        guard target.count <= limits.targetBytesMax else {
            throw HTTPParseError(status: 414, "request target longer than \(limits.targetBytesMax) bytes")
        }
        guard target.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw HTTPParseError(status: 400, "invalid character in request target")
        }
        let methodText = String(decoding: method, as: UTF8.self)
        var targetText = String(decoding: target, as: UTF8.self)
        var authority: String?
        if let (path, host) = try absoluteForm(targetText) {
            targetText = path
            authority = host
        }
        guard targetText.hasPrefix("/") || (targetText == "*" && methodText == "OPTIONS") else {
            throw HTTPParseError(status: 400, "request target must be a path or an absolute http URL")
        }
        return (HTTPRequestHead(method: methodText, target: targetText, version: try parseVersion(version), headers: HTTPHeaders()), authority)
    }

    /// `http[s]://authority[/path][?query]` as (origin-form target, authority); nil for any
    /// other form. A missing path is `/`; user information in the authority is refused.
    static func absoluteForm(_ target: String) throws(HTTPParseError) -> (String, String)? {
        let lower = target.prefix(8).lowercased()
        let schemeLength = lower.hasPrefix("http://") ? 7 : lower.hasPrefix("https://") ? 8 : 0
        guard schemeLength > 0 else { return nil }
        let rest = target.dropFirst(schemeLength)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard !authority.isEmpty, !authority.contains("@") else {
            throw HTTPParseError(status: 400, "absolute request target without a host, or with user information")
        }
        let path = rest[authorityEnd...]
        return (path.hasPrefix("/") ? String(path) : "/" + path, String(authority))
    }

    private static func parseStatusLine(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPResponseHead {
        let parts = line.split(separator: space, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[1].count == 3, parts[1].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw HTTPParseError(status: 502, "malformed status line")
        }
        let version = try parseVersion(parts[0])
        let status = parts[1].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        let reason = parts.count > 2 ? String(decoding: parts[2], as: UTF8.self) : ""
        return HTTPResponseHead(status: status, reason: reason, version: version)
    }

    private static func parseVersion(_ bytes: Slice<UnsafeRawBufferPointer>) throws(HTTPParseError) -> HTTPVersion {
        if bytes.elementsEqual("HTTP/1.1".utf8) { return .http11 }
        if bytes.elementsEqual("HTTP/1.0".utf8) { return .http10 }
        if bytes.count == 8 && bytes.starts(with: "HTTP/".utf8) && bytes.dropFirst(5).enumerated().allSatisfy({
            $0.offset == 1 ? $0.element == 0x2e : ($0.element >= 0x30 && $0.element <= 0x39)
        }) {
            throw HTTPParseError(status: 505, "HTTP version not supported")
        }
        throw HTTPParseError(status: 400, "malformed HTTP version")
    }

    private static func parseFields(_ lines: inout LineReader, limits: HTTPLimits) throws(HTTPParseError) -> HTTPHeaders {
        var headers = HTTPHeaders()
        while let line = lines.next() {
            if line[0] == space || line[0] == tab {
                throw HTTPParseError(status: 400, "obsolete line folding is not accepted")
            }
            guard headers.count < limits.headerCountMax else {
                throw HTTPParseError(status: 431, "more than \(limits.headerCountMax) header fields")
            }
            guard let colon = line.firstIndex(of: colonByte) else { throw HTTPParseError(status: 400, "header field without a colon") }
            let name = line[..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
                throw HTTPParseError(status: 400, "invalid header field name")
            }
            var valueStart = colon + 1, valueEnd = line.count
            while valueStart < valueEnd && (line[valueStart] == space || line[valueStart] == tab) { valueStart += 1 }
            while valueEnd > valueStart && (line[valueEnd - 1] == space || line[valueEnd - 1] == tab) { valueEnd -= 1 }
            let value = line[valueStart..<valueEnd]
            guard value.allSatisfy({ $0 == tab || ($0 >= 0x20 && $0 != 0x7f) }) else {
                throw HTTPParseError(status: 400, "control character in header field value")
            }
            headers.add(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        }
        return headers
    }

    private static func validateRequest(_ head: HTTPRequestHead) throws(HTTPParseError) {
        let hosts = head.headers.values("Host")
        if head.version == .http11 && hosts.count != 1 {
            throw HTTPParseError(status: 400, hosts.isEmpty ? "missing Host header" : "more than one Host header")
        }
        _ = try HTTPBodyFraming.forRequest(head)
    }
}

let cr: UInt8 = 0x0d
let lf: UInt8 = 0x0a
let space: UInt8 = 0x20
let tab: UInt8 = 0x09
let colonByte: UInt8 = 0x3a

/// RFC 9110 `tchar`.
@inline(__always)
func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5a, 0x61...0x7a: return true
    case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2a, 0x2b, 0x2d, 0x2e, 0x5e, 0x5f, 0x60, 0x7c, 0x7e: return true
    default: return false
    }
}
