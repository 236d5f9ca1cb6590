/// What an object carries besides its bytes, as S3 clients set and read it: the MD5 of the
/// bytes (S3's ETag of a single PUT), the content type, and headers stored as sent
/// (`Cache-Control`, `Content-Disposition`, `x-amz-meta-*`), in the order they came.
public struct ObjectAttributes: Equatable, Sendable {
    /// Lowercase hex MD5 of the object's bytes, or an S3 multipart ETag (`<hex>-<parts>`).
    public var md5: String?
    public var contentType: String?
    /// Header names lowercased, values as sent (no CR or LF: HTTP forbids them).
    public var headers: [Header]
    /// The whole-object checksum the PUT sent and Flare verified (`x-amz-checksum-crc32` and
    /// its base64 value), returned on a GET that asks for it.
    public var checksum: Header?

    public struct Header: Equatable, Sendable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(md5: String? = nil, contentType: String? = nil, headers: [Header] = [], checksum: Header? = nil) {
        self.md5 = md5
        self.contentType = contentType
        self.headers = headers
        self.checksum = checksum
    }

    public var isEmpty: Bool { md5 == nil && contentType == nil && headers.isEmpty && checksum == nil }

    /// One `name: value` per line, `md5`, `content-type` and the checksum first when set.
    public func encode() -> String {
        var lines: [String] = []
        if let md5 { lines.append(":md5: \(md5)") }
        if let contentType { lines.append(":content-type: \(contentType)") }
        if let checksum { lines.append(":checksum: \(checksum.name) \(checksum.value)") }
        lines += headers.map { "\($0.name): \($0.value)" }
        return lines.map { $0 + "\n" }.joined()
    }

    /// Parses ``encode()``'s output; `nil` when a line is not `name: value`.
    public static func decode(_ text: String) -> ObjectAttributes? {
        var attributes = ObjectAttributes()
        for line in text.split(separator: "\n") {
            guard let colon = line.dropFirst().firstIndex(of: ":") else { return nil }
            let name = String(line[..<colon])
            var value = line[line.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
            switch name {
            case ":md5": attributes.md5 = String(value)
            case ":content-type": attributes.contentType = String(value)
            case ":checksum":
                let parts = value.split(separator: " ", maxSplits: 1)
                guard parts.count == 2 else { return nil }
                attributes.checksum = Header(name: String(parts[0]), value: String(parts[1]))
            default: attributes.headers.append(Header(name: name, value: String(value)))
            }
        }
        return attributes
    }
}
