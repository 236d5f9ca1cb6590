/// The parameters of a raw query string, split but not reordered.
enum S3Query {
    /// Each `name=value` piece of `query`, both still percent-encoded; a piece without `=` has an
    /// empty value (`?uploads`), and empty pieces (`a=1&&b=2`) are dropped.
    static func rawPairs(_ query: Substring) -> [(name: Substring, value: Substring)] {
        query.split(separator: "&").map { piece in
            guard let equals = piece.firstIndex(of: "=") else { return (piece, "") }
            return (piece[..<equals], piece[piece.index(after: equals)...])
        }
    }

    /// The parameters of `query`, names and values percent-decoded (`+` stays `+`: SigV4 clients
    /// encode a space as `%20`, so a literal `+` is a plus).
    static func decodedPairs(_ query: Substring) -> [(name: String, value: String)] {
        rawPairs(query).map { (S3URIEncoding.decode($0.name), S3URIEncoding.decode($0.value)) }
    }

    /// The first decoded value of parameter `name` (case-sensitive, as S3's are), or nil.
    static func value(_ name: String, in pairs: [(name: String, value: String)]) -> String? {
        pairs.first(where: { $0.name == name })?.value
    }
}
