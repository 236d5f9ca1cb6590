import FlareCore

/// What each `flare` subcommand does, returning the text it prints: the api's JSON as it
/// came with `json`, else the human form. The executable only parses flags and prints.
public struct AdminActions: Sendable {
    public let api: AdminAPI
    /// The api's URL, for the status line.
    public let apiText: String
    public let json: Bool

    public init(api: AdminAPI, apiText: String, json: Bool) {
        self.api = api
        self.apiText = apiText
        self.json = json
    }

    /// `flare status`: `GET /health`, `/admin/nodes` and `/admin/repair`; with `json`, one
    /// object holding the three answers as `health`, `layout` and `repair`.
    public func status() async throws(AdminError) -> String {
        let health = try await api.health()
        let layout = try await api.layout()
        let repair = try await api.repair()
        if json {
            return "{\"health\":\(Self.text(health.body)),\"layout\":\(Self.text(layout.body)),\"repair\":\(Self.text(repair.body))}"
        }
        return StatusReport(api: apiText, health: health.value, layout: layout.value, repair: repair.value).render()
    }

    /// `flare nodes`: `GET /admin/nodes`.
    public func nodes() async throws(AdminError) -> String {
        let layout = try await api.layout()
        return json ? Self.text(layout.body) : layout.value.renderTable()
    }

    /// `flare node add`.
    public func addNode(address: String, zone: String?) async throws(AdminError) -> String {
        render(try await api.addNode(address: address, zone: zone), "added")
    }

    /// `flare node drain`.
    public func drain(_ node: NodeIDPrefix) async throws(AdminError) -> String {
        render(try await api.nodeAction(try await api.resolve(node), "drain"), "draining")
    }

    /// `flare node activate`: undoes a drain.
    public func activate(_ node: NodeIDPrefix) async throws(AdminError) -> String {
        render(try await api.nodeAction(try await api.resolve(node), "activate"), "activated")
    }

    /// `flare node remove`; `force` removes a node that still holds copies.
    public func remove(_ node: NodeIDPrefix, force: Bool) async throws(AdminError) -> String {
        render(try await api.nodeAction(try await api.resolve(node), "remove", query: force ? "force=true" : nil), "removed")
    }

    /// `flare node weight`.
    public func setWeight(_ node: NodeIDPrefix, _ weight: NodeWeight) async throws(AdminError) -> String {
        render(try await api.nodeAction(try await api.resolve(node), "weight", query: "value=\(weight)"), "reweighted")
    }

    /// `flare repair status`: `GET /admin/repair`.
    public func repairStatus(nowNanoseconds: Int64 = wallClockNanoseconds()) async throws(AdminError) -> String {
        let repair = try await api.repair()
        return json ? Self.text(repair.body) : repair.value.renderReport(nowNanoseconds: nowNanoseconds)
    }

    private func render(_ answer: AdminAPI.Answer<AdminNode>, _ verb: String) -> String {
        json ? Self.text(answer.body) : verb + " " + answer.value.renderLine()
    }

    /// A JSON body as printed: as the api sent it, less the trailing newline.
    static func text(_ body: [UInt8]) -> String {
        var text = Substring(decoding: body, as: UTF8.self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
