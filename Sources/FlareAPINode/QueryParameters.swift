import FlareCore

/// A request's query string as names and values, percent-decoded (`+` is a space).
struct QueryParameters {
    private(set) var values: [(name: String, value: String)] = []

    /// Throws a message naming the parameter that is not valid percent-encoding.
    init(_ query: Substring?) throws(QueryError) {
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let raw = parts.count > 1 ? String(parts[1]).replacingPlus() : ""
            do {
                values.append((name, raw.isEmpty ? "" : try ObjectKey.decode(raw)))
            } catch {
                throw QueryError("invalid \(name): \(error)")
            }
        }
    }

    subscript(_ name: String) -> String? { values.last { $0.name == name }?.value }

    /// The first name not in `allowed`, to refuse a request that asks for what it cannot get.
    func unknown(allowing allowed: Set<String>) -> String? { values.first { !allowed.contains($0.name) }?.name }
}

struct QueryError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension String {
    /// `+` means space in query strings.
    func replacingPlus() -> String { String(map { $0 == "+" ? " " : $0 }) }
}
