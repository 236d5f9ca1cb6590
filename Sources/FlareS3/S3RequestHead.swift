/// A request as it came off the wire, before anything is decoded: what signatures are computed
/// over.
public struct S3RequestHead: Sendable {
    /// The method as sent (`GET`, `PUT`, …).
    public var method: String
    /// Path and query exactly as sent, still percent-encoded (origin-form).
    public var target: String
    /// Every header in the order received, names as sent; repeated names stay repeated.
    public var headers: [(name: String, value: String)]

    /// A head from its parts.
    public init(method: String, target: String, headers: [(name: String, value: String)]) {
        self.method = method
        self.target = target
        self.headers = headers
    }

    /// The raw path: the target up to `?`.
    public var path: Substring {
        target.firstIndex(of: "?").map { target[..<$0] } ?? target[...]
    }

    /// The raw query: the target after the first `?`, empty when there is none.
    public var query: Substring {
        target.firstIndex(of: "?").map { target[target.index(after: $0)...] } ?? ""
    }

    /// The first value of header `name` (ASCII case-insensitive), as sent.
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first(where: { $0.name.lowercased() == lower })?.value
    }

    /// Every value of header `name` (ASCII case-insensitive), in the order received.
    func headerValues(_ name: String) -> [String] {
        let lower = name.lowercased()
        return headers.filter { $0.name.lowercased() == lower }.map(\.value)
    }
}
