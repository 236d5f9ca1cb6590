/// S3's XML: the documents Flare answers with (this file and `S3XML+*.swift`) and the request
/// bodies it reads (`S3XML+Parsing.swift`). Renderers build strings directly: the documents are
/// small and fixed in shape, and every text goes through `escape`.
public enum S3XML {
    /// S3's namespace, on every root element S3 answers with.
    public static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"
    static let declaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

    /// `text` safe as XML character data or an attribute value: `& < > " '` become entities, and
    /// control characters, which XML 1.0 cannot carry literally, become `&#xN;` as S3 writes them.
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case _ where scalar.value < 0x20 && scalar != "\t" && scalar != "\n": out += "&#x\(String(scalar.value, radix: 16, uppercase: true));"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "&", "<", ">", "\"", "'": return true
        default: return scalar.value < 0x20 && scalar != "\t" && scalar != "\n"
        }
    }

    /// `<name>escaped text</name>`.
    static func element(_ name: String, _ text: String) -> String {
        "<\(name)>\(escape(text))</\(name)>"
    }

    /// An ETag as S3's XML carries it: in double quotes (a stored ETag given with or without).
    static func etagElement(_ etag: String) -> String {
        element("ETag", quoted(etag))
    }

    static func quoted(_ etag: String) -> String {
        etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count >= 2 ? etag : "\"\(etag)\""
    }
}
