import class Foundation.NSObject
import struct Foundation.Data
import FoundationXML

/// An element of a parsed request body: local name (namespace prefix dropped), its text and
/// children. Request bodies are small (the caller bounds them), so a tree is the simplest shape
/// to check.
struct S3XMLElement {
    var name: String
    var text = ""
    var children: [S3XMLElement] = []

    func child(_ name: String) -> S3XMLElement? { children.first { $0.name == name } }
    func all(_ name: String) -> [S3XMLElement] { children.filter { $0.name == name } }
    /// The text without the XML whitespace (space, tab, CR, LF) that pretty-printing adds.
    var trimmedText: String {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d }
        let bytes = text.utf8
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}

extension S3XML {
    /// Most elements a request body may have: a 1000-key Delete has about 2000, a 10000-part
    /// Complete about 30000; past this it is garbage or an attack.
    static let parsedElementsMax = 50_000

    /// CompleteMultipartUpload's body: the parts in document order, with or without S3's
    /// namespace. ETags come back without their double quotes, however they were sent (quoted,
    /// unquoted as s3cmd sends them, or as `&#34;…&#34;` as rclone does).
    /// - Throws: `MalformedXML` unless the root is `CompleteMultipartUpload` holding at least one
    ///   `Part`, each with a `PartNumber` from 1 to 10000 and a non-empty `ETag`. Order and
    ///   duplicates are the caller's to judge (`InvalidPartOrder`).
    public static func parseCompleteMultipartUpload(_ body: Data) throws(S3Error) -> [(partNumber: Int, etag: String)] {
        let root = try parse(body, root: "CompleteMultipartUpload")
        let parts = root.all("Part")
        guard !parts.isEmpty else { throw .malformedXML() }
        var result: [(partNumber: Int, etag: String)] = []
        result.reserveCapacity(parts.count)
        for part in parts {
            guard let number = part.child("PartNumber").flatMap({ Int($0.trimmedText) }), (1...10_000).contains(number),
                  let etag = part.child("ETag")?.trimmedText, !unquoted(etag).isEmpty
            else { throw .malformedXML() }
            result.append((number, unquoted(etag)))
        }
        return result
    }

    /// DeleteObjects' body: `Quiet` (false when absent) and the keys in document order.
    /// - Throws: `MalformedXML` unless the root is `Delete` with 1 to 1000 `Object`s, each with a
    ///   non-empty `Key`.
    public static func parseDelete(_ body: Data) throws(S3Error) -> (quiet: Bool, keys: [String]) {
        let root = try parse(body, root: "Delete")
        let objects = root.all("Object")
        guard (1...1000).contains(objects.count) else { throw .malformedXML() }
        var keys: [String] = []
        keys.reserveCapacity(objects.count)
        for object in objects {
            // A key's spaces are significant, so it is not trimmed.
            guard let key = object.child("Key")?.text, !key.isEmpty else { throw .malformedXML() }
            keys.append(key)
        }
        let quiet: Bool
        switch root.child("Quiet")?.trimmedText.lowercased() {
        case nil, "false": quiet = false
        case "true": quiet = true
        default: throw .malformedXML()
        }
        return (quiet, keys)
    }

    /// CreateBucket's optional body: the `LocationConstraint`, or nil for an empty body, a
    /// configuration without one, or an empty one.
    /// - Throws: `MalformedXML` for a body that is not a `CreateBucketConfiguration`.
    public static func parseCreateBucketConfiguration(_ body: Data) throws(S3Error) -> String? {
        guard body.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d) }) else { return nil }
        let root = try parse(body, root: "CreateBucketConfiguration")
        guard let location = root.child("LocationConstraint")?.trimmedText, !location.isEmpty else { return nil }
        return location
    }

    /// `"abc"` → `abc`; anything else unchanged.
    static func unquoted(_ etag: String) -> String {
        etag.count >= 2 && etag.hasPrefix("\"") && etag.hasSuffix("\"") ? String(etag.dropFirst().dropLast()) : etag
    }

    /// The document's root element, which must be named `root`.
    static func parse(_ body: Data, root: String) throws(S3Error) -> S3XMLElement {
        let builder = TreeBuilder(elementsMax: parsedElementsMax)
        let parser = XMLParser(data: body)
        parser.shouldProcessNamespaces = true
        // No DTD or external entity is ever fetched or expanded from a client's body.
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        guard parser.parse(), !builder.failed, let document = builder.root, document.name == root else {
            throw .malformedXML()
        }
        return document
    }

    /// Builds the element tree from XMLParser's events.
    final class TreeBuilder: NSObject, XMLParserDelegate {
        private let elementsMax: Int
        private var elements = 0
        private var stack: [S3XMLElement] = []
        private(set) var root: S3XMLElement?
        private(set) var failed = false

        init(elementsMax: Int) { self.elementsMax = elementsMax }

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            elements += 1
            guard elements <= elementsMax, root == nil else {
                failed = true
                parser.abortParsing()
                return
            }
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            stack.append(S3XMLElement(name: local))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            guard let element = stack.popLast() else { return }
            if stack.isEmpty {
                root = element
            } else {
                stack[stack.count - 1].children.append(element)
            }
        }

        func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) { failed = true }
    }
}
