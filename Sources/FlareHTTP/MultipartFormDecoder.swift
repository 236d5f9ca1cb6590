import Glibc

/// A `multipart/form-data` body (RFC 7578, the framing of RFC 2046 §5.1), decoded as it
/// arrives — the state machine of form uploads (`curl -F`, an HTML form, S3's browser POST).
///
/// Written here rather than taken from a library: the file part is an object of any size,
/// and its bytes must go from the socket into chunk buffers without the part ever being
/// held whole; the decoder only names byte ranges of the input it is given. It does no I/O.
///
/// Feed it the body piece by piece with ``decode(_:isFinal:into:)``. It reports part heads,
/// the data of the current part as ranges of the input, part ends and the end of the body;
/// bytes it cannot decide on yet (a tail that may be the start of a delimiter, a head not yet
/// complete) are not consumed and must be presented again, followed by more of the body.
public struct MultipartFormDecoder: Sendable {
    /// What a piece of input held, in order.
    public enum Event: Equatable, Sendable {
        /// A part begins; its data follows.
        case part(MultipartPartHead)
        /// Bytes of the current part's content, as a range of the input given.
        case data(Range<Int>)
        /// The current part's content ended.
        case partEnd
        /// The closing delimiter: the body is complete (what follows, the epilogue, is ignored).
        case end
    }

    /// Longest head of one part, and longest preamble, before the body is refused.
    public static let partHeadBytesMax = 16 * 1024
    public static let preambleBytesMax = 64 * 1024
    /// Most parts in one body.
    public static let partsMax = 1000

    private enum Phase: Sendable {
        /// Before the first delimiter.
        case preamble
        /// Just after a delimiter's boundary: `--` (the close) or padding and CRLF follow.
        case afterBoundary
        /// Reading a part's head, up to its empty line.
        case head
        /// In a part's content, looking for the next delimiter.
        case content
        /// After the close delimiter.
        case epilogue
    }

    /// `CRLF--boundary`: what ends a part's content.
    private let delimiter: [UInt8]
    private var phase = Phase.preamble
    private var preambleBytes = 0
    private var parts = 0
    /// Whether nothing of the body has been consumed: the first delimiter may then come
    /// without its leading CRLF.
    private var atBodyStart = true

    /// Whether the closing delimiter has been seen.
    public var isComplete: Bool {
        if case .epilogue = phase { return true }
        return false
    }

    /// - Parameter boundary: the `boundary` parameter of the body's Content-Type.
    public init(boundary: String) throws(HTTPParseError) {
        let bytes = Array(boundary.utf8)
        guard (1...70).contains(bytes.count), !bytes.contains(where: { $0 < 0x20 || $0 > 0x7e }) else {
            throw HTTPParseError(status: 400, "multipart boundary must be 1 to 70 printable characters")
        }
        delimiter = Array("\r\n--".utf8) + bytes
    }

    /// The boundary of a `multipart/form-data` Content-Type, or `nil` when the type is another.
    /// - Throws: a 400 for `multipart/form-data` without a usable boundary.
    public static func boundary(ofContentType contentType: String) throws(HTTPParseError) -> String? {
        let parameters = HeaderParameters(contentType)
        guard parameters.value.lowercased() == "multipart/form-data" else { return nil }
        guard let boundary = parameters["boundary"], !boundary.isEmpty else {
            throw HTTPParseError(status: 400, "multipart/form-data needs a boundary parameter")
        }
        return boundary
    }

    /// Decodes what it can of `input`, appending to `events`; returns how many bytes were
    /// consumed. The rest must be given again at the start of the next call. With `isFinal`
    /// (the body ended after `input`) a body that is not complete is refused.
    /// - Throws: a 400 ``HTTPParseError`` saying what is malformed.
    public mutating func decode(_ input: UnsafeRawBufferPointer, isFinal: Bool,
                                into events: inout [Event]) throws(HTTPParseError) -> Int {
        var at = 0
        decoding: while at < input.count || isFinal {
            switch phase {
            case .preamble:
                guard let consumed = try skipPreamble(input, from: at, isFinal: isFinal) else { break decoding }
                at = consumed
            case .afterBoundary:
                let rest = input.count - at
                if rest >= 2 && input[at] == UInt8(ascii: "-") && input[at + 1] == UInt8(ascii: "-") {
                    at += 2
                    phase = .epilogue
                    events.append(.end)
                    continue
                }
                // Transport padding (spaces, tabs), then CRLF.
                var cursor = at
                while cursor < input.count && (input[cursor] == UInt8(ascii: " ") || input[cursor] == UInt8(ascii: "\t")) { cursor += 1 }
                if cursor - at > 64 { throw Self.malformed("too much padding after a boundary") }
                guard input.count - cursor >= 2 else {
                    if isFinal { throw Self.malformed("the body ends right after a boundary") }
                    break decoding
                }
                guard input[cursor] == UInt8(ascii: "\r") && input[cursor + 1] == UInt8(ascii: "\n") else {
                    throw Self.malformed("a boundary line must end with CRLF or --")
                }
                at = cursor + 2
                parts += 1
                if parts > Self.partsMax { throw Self.malformed("more than \(Self.partsMax) parts") }
                phase = .head
            case .head:
                if input.count - at >= 2 && input[at] == UInt8(ascii: "\r") && input[at + 1] == UInt8(ascii: "\n") {
                    throw Self.malformed("a part without a head: every part needs Content-Disposition: form-data; name=\"…\"")
                }
                // A head is decoded whole or not at all: it is presented again until its empty line is in.
                guard let end = Self.find(Self.headEnd, in: input, from: at) else {
                    if input.count - at > Self.partHeadBytesMax {
                        throw Self.malformed("a part's head is longer than \(Self.partHeadBytesMax) bytes")
                    }
                    if isFinal { throw Self.malformed("the body ends inside a part's head") }
                    break decoding
                }
                if end - at > Self.partHeadBytesMax { throw Self.malformed("a part's head is longer than \(Self.partHeadBytesMax) bytes") }
                let head = try MultipartPartHead(UnsafeRawBufferPointer(rebasing: input[at..<end]))
                events.append(.part(head))
                at = end + Self.headEnd.count
                phase = .content
            case .content:
                if let found = Self.find(delimiter, in: input, from: at) {
                    if found > at { events.append(.data(at..<found)) }
                    events.append(.partEnd)
                    at = found + delimiter.count
                    phase = .afterBoundary
                    continue
                }
                if isFinal { throw Self.malformed("the body ends inside a part, before its closing boundary") }
                // Everything but a tail that could begin a delimiter is content.
                let safe = input.count - Self.delimiterPrefixLength(delimiter, atEndOf: input, from: at)
                if safe > at { events.append(.data(at..<safe)) }
                at = safe
                break decoding
            case .epilogue:
                at = input.count
                break decoding
            }
        }
        if at > 0 { atBodyStart = false }
        return at
    }

    /// Skips the preamble up to the first `--boundary` (at the body's start or after CRLF);
    /// returns where the boundary ends, or nil when more input is needed.
    private mutating func skipPreamble(_ input: UnsafeRawBufferPointer, from start: Int, isFinal: Bool) throws(HTTPParseError) -> Int? {
        let dashBoundary = delimiter[2...]
        if atBodyStart && start == 0 {
            if input.count >= dashBoundary.count {
                if dashBoundary.elementsEqual(input[0..<dashBoundary.count]) {
                    phase = .afterBoundary
                    return dashBoundary.count
                }
            } else if dashBoundary.starts(with: input) {
                if isFinal { throw Self.malformed("the body ends before its first boundary") }
                return nil
            }
        }
        if let found = Self.find(delimiter, in: input, from: start) {
            preambleBytes += found - start
            if preambleBytes > Self.preambleBytesMax { throw Self.malformed("a preamble longer than \(Self.preambleBytesMax) bytes") }
            phase = .afterBoundary
            return found + delimiter.count
        }
        if isFinal { throw Self.malformed("no boundary line: the body is not multipart/form-data with this boundary") }
        let keep = Self.delimiterPrefixLength(delimiter, atEndOf: input, from: start)
        preambleBytes += input.count - keep - start
        if preambleBytes > Self.preambleBytesMax { throw Self.malformed("a preamble longer than \(Self.preambleBytesMax) bytes") }
        // The skipped bytes are consumed; a possible start of the delimiter is kept.
        return input.count - keep == start ? nil : input.count - keep
    }

    private static let headEnd: [UInt8] = Array("\r\n\r\n".utf8)

    /// The first offset at or after `start` where `needle` occurs whole: memchr for its first
    /// byte (glibc's memmem is not exported to Swift), then a compare.
    private static func find(_ needle: [UInt8], in input: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard input.count - start >= needle.count else { return nil }
        let base = input.baseAddress!
        let lastStart = input.count - needle.count
        var at = start
        return needle.withUnsafeBytes { pattern -> Int? in
            while at <= lastStart {
                guard let hit = memchr(base + at, Int32(pattern[0]), lastStart - at + 1) else { return nil }
                at = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + at, pattern.baseAddress!, pattern.count) == 0 { return at }
                at += 1
            }
            return nil
        }
    }

    /// How many bytes at the end of `input` (after `start`) are a proper prefix of `needle`:
    /// they may be the start of it, and wait for the next input.
    private static func delimiterPrefixLength(_ needle: [UInt8], atEndOf input: UnsafeRawBufferPointer, from start: Int) -> Int {
        let longest = min(needle.count - 1, input.count - start)
        var length = longest
        while length > 0 {
            let tail = input.count - length
            if input[tail] == needle[0] && needle[0..<length].elementsEqual(input[tail..<input.count]) { return length }
            length -= 1
        }
        return 0
    }

    private static func malformed(_ what: String) -> HTTPParseError {
        HTTPParseError(status: 400, "malformed multipart/form-data body: \(what)")
    }
}

/// The head of one part: its Content-Disposition's `name` and `filename`, its Content-Type.
public struct MultipartPartHead: Equatable, Sendable {
    /// The form field's name.
    public let name: String
    /// The file name sent with a file field (`filename*` decoded when given), if any.
    public let filename: String?
    /// The part's Content-Type, if sent.
    public let contentType: String?

    public init(name: String, filename: String? = nil, contentType: String? = nil) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
    }

    init(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) {
        var disposition: HeaderParameters?
        var contentType: String?
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else {
                throw HTTPParseError(status: 400, "malformed multipart/form-data body: a part's header line has no colon")
            }
            let name = line[..<colon].trimmingSpaces().lowercased()
            let value = String(line[line.index(after: colon)...].trimmingSpaces())
            switch name {
            case "content-disposition": disposition = HeaderParameters(value)
            case "content-type": contentType = value
            default: break
            }
        }
        guard let disposition, disposition.value.lowercased() == "form-data", let field = disposition["name"] else {
            throw HTTPParseError(status: 400, "malformed multipart/form-data body: every part needs Content-Disposition: form-data; name=\"…\"")
        }
        name = field
        filename = disposition["filename*"].flatMap(HeaderParameters.decodeExtended) ?? disposition["filename"]
        self.contentType = contentType
    }
}

/// A header value with `; name=value` parameters (token or quoted-string values), as in
/// Content-Type and Content-Disposition. Parameter names are matched case-insensitively.
struct HeaderParameters {
    let value: String
    private var parameters: [(String, String)] = []

    init(_ header: String) {
        var rest = Substring(header)
        let semicolon = rest.firstIndex(of: ";") ?? rest.endIndex
        value = String(rest[..<semicolon].trimmingSpaces())
        rest = rest[semicolon...]
        while rest.first == ";" {
            rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let name = rest[..<equals].trimmingSpaces().lowercased()
            rest = rest[rest.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
            var parameter = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                while let character = rest.first, character != "\"" {
                    rest = rest.dropFirst()
                    if character == "\\", let escaped = rest.first {
                        parameter.append(escaped)
                        rest = rest.dropFirst()
                    } else {
                        parameter.append(character)
                    }
                }
                rest = rest.dropFirst()
                rest = rest.drop { $0 != ";" }
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                parameter = String(rest[..<end].trimmingSpaces())
                rest = rest[end...]
            }
            parameters.append((name, parameter))
        }
    }

    subscript(name: String) -> String? { parameters.first { $0.0 == name }?.1 }

    /// An RFC 8187 value (`UTF-8''%e2%82%ac.txt`), decoded; nil when it is not one.
    static func decodeExtended(_ value: String) -> String? {
        let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard pieces.count == 3, pieces[0].lowercased() == "utf-8" else { return nil }
        var bytes: [UInt8] = []
        var iterator = pieces[2].utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
