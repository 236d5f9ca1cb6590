import Foundation

/// The api's admin endpoints, over any ``AdminTransport``: turns error statuses into
/// ``AdminError/api(status:message:)`` and 2xx bodies into values, keeping the raw bytes for
/// `--json`.
public struct AdminAPI: Sendable {
    /// A decoded answer and the bytes it came from.
    public struct Answer<Value: Sendable>: Sendable {
        public var value: Value
        public var body: [UInt8]
    }

    public let transport: any AdminTransport

    public init(transport: any AdminTransport) { self.transport = transport }

    /// `GET /health`.
    public func health() async throws(AdminError) -> Answer<APIHealth> {
        try await request("GET", "/health", as: APIHealth.self)
    }

    /// `GET /admin/nodes`.
    public func layout() async throws(AdminError) -> Answer<NodeLayout> {
        try await request("GET", "/admin/nodes", as: NodeLayout.self)
    }

    /// `GET /admin/repair`.
    public func repair() async throws(AdminError) -> Answer<RepairStatus> {
        try await request("GET", "/admin/repair", as: RepairStatus.self)
    }

    /// `POST /admin/nodes?address=&zone=`: adds the data node answering at `address`.
    public func addNode(address: String, zone: String?) async throws(AdminError) -> Answer<AdminNode> {
        var query = "address=" + Self.queryEscaped(address)
        if let zone { query += "&zone=" + Self.queryEscaped(zone) }
        return try await request("POST", "/admin/nodes?" + query, as: AdminNode.self)
    }

    /// `POST /admin/nodes/{id}/{action}[?query]`: drain, activate, remove, weight.
    public func nodeAction(_ id: String, _ action: String, query: String? = nil) async throws(AdminError) -> Answer<AdminNode> {
        try await request("POST", "/admin/nodes/\(id)/\(action)" + (query.map { "?" + $0 } ?? ""), as: AdminNode.self)
    }

    /// The whole id of the node `prefix` names: as it is when it is whole (the api says
    /// whether it knows it), else looked up in the layout.
    public func resolve(_ prefix: NodeIDPrefix) async throws(AdminError) -> String {
        if prefix.isWholeID { return prefix.text }
        return try prefix.resolve(in: try await layout().value.nodes).id
    }

    /// Sends the request and decodes a 2xx answer as `Value`.
    public func request<Value: Decodable & Sendable>(_ method: String, _ target: String,
                                                     as type: Value.Type) async throws(AdminError) -> Answer<Value> {
        let answer = try await transport.send(method, target)
        guard (200..<300).contains(answer.status) else { throw Self.error(answer, of: "\(method) \(target)") }
        do {
            return Answer(value: try JSONDecoder().decode(Value.self, from: Data(answer.body)), body: answer.body)
        } catch {
            throw .badAnswer(target: "\(method) \(target)", why: Self.describe(error))
        }
    }

    /// The error an error answer stands for: its body's message when it is Flare's error JSON
    /// (every endpoint's), else the start of whatever it is (a proxy's page, say).
    static func error(_ answer: AdminAnswer, of request: String) -> AdminError {
        if let body = try? JSONDecoder().decode(APIErrorBody.self, from: Data(answer.body)) {
            return .api(status: answer.status, message: body.message)
        }
        let text = String(decoding: answer.body.prefix(200), as: UTF8.self)
            .split(whereSeparator: \.isNewline).joined(separator: " ")
        return .api(status: answer.status, message: text.isEmpty ? "\(request) failed" : "\(request): \(text)")
    }

    /// A decoding error in a line: which field, and what was wrong with it.
    static func describe(_ error: Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: return "no \(path(context)).\(key.stringValue)"
        case .valueNotFound(_, let context)?: return "\(path(context)) is null"
        case .typeMismatch(let type, let context)?: return "\(path(context)) is not a \(type)"
        case .dataCorrupted(let context)?: return "\(path(context)) \(context.debugDescription)"
        default: return "\(error)"
        }
    }

    /// Percent-encodes everything but unreserved characters and `:` (allowed in a query,
    /// and in every address).
    static func queryEscaped(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }
}
