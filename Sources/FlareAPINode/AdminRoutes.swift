import FlareCluster
import FlareCore
import FlareHTTP
import FlareMetadata
import FlareMetrics
import Foundation

/// The admin API under `/admin` (what the `flare` CLI speaks), JSON in snake_case:
///
/// - `GET /admin/nodes`: the layout — version, and every node ever recorded with its
///   membership, weight, health and the chunk copies manifests name on it.
/// - `POST /admin/nodes?address=HOST:PORT[&zone=Z]`: add the data node answering there.
/// - `POST /admin/nodes/{id}/drain`, `…/activate`, `…/remove[?force=true]`, `…/weight?value=N`
///   (`value=capacity` goes back to the capacity in GiB).
/// - `GET /admin/repair`: what the repair is doing, its progress and rate.
struct AdminRoutes: Sendable {
    let layout: ClusterLayout
    let prober: NodeProber
    let progress: RepairProgress
    let replicas: Int
    /// `--datanodes` as given: addresses the prober keeps asking even when removed.
    let configured: Set<String>

    /// A node as `GET /admin/nodes` lists it.
    struct NodeEntry: Encodable {
        var id: String
        var address: String
        var zone: String
        var state: NodeMembership
        var weight: Int
        var capacityBytes: Int
        var usedBytes: Int?
        /// Its scrubber's progress, as the node last said.
        var scrub: ScrubProgress?
        /// `up`, `suspect`, `down`, or `gone` (not in the directory: another id answers at its
        /// address, it never answered this run, or it was removed).
        var health: String
        var copies: Int?
        /// Deletions queued for it (copies replaced or moved off it, waiting out the grace).
        var pendingDeletions: Int?
        /// A draining node that holds nothing any more (no copy named, no deletion queued):
        /// its drain is over, and it may be removed.
        var drained: Bool
    }

    struct Layout: Encodable {
        var version: Int64
        var replicas: Int
        var nodes: [NodeEntry]
    }

    func handle(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) async throws {
        let answer: (status: Int, body: any Encodable)
        do throws(LayoutChangeError) {
            answer = try await route(request)
        } catch {
            let headers: HTTPHeaders = error.allow.map { ["Allow": $0] } ?? [:]
            return try await response.respondError(error.status, error.description, headers: headers)
        }
        try await respond(response, answer.status, answer.body)
    }

    private func route(_ request: HTTPServerRequest) async throws(LayoutChangeError) -> (status: Int, body: any Encodable) {
        let path = request.path
        let parts = Array(path.split(separator: "/", omittingEmptySubsequences: false).dropFirst(2))  // "", "admin"
        let query: QueryParameters
        do {
            query = try QueryParameters(request.head.query)
        } catch {
            throw LayoutChangeError(400, error.description)
        }
        let isNodeAction = parts.count == 3 && parts[0] == "nodes"
        switch (request.method, parts) {
        case ("GET", ["nodes"]):
            return (200, try await listing())
        case ("POST", ["nodes"]):
            try refuseUnknown(query, allowing: ["address", "zone"])
            guard let address = query["address"], !address.isEmpty else {
                throw LayoutChangeError(400, "say which node: POST /admin/nodes?address=HOST:PORT[&zone=Z]")
            }
            let node = try await layout.add(address: address, zone: query["zone"].flatMap { $0.isEmpty ? nil : $0 }, prober: prober)
            return (201, try await entry(node))
        case ("POST", _) where isNodeAction:
            return (200, try await entry(try await act(String(parts[2]), on: String(parts[1]), query)))
        case ("GET", ["repair"]):
            return (200, repairReport())
        case (_, ["nodes"]):
            throw LayoutChangeError(405, "use GET or POST on \(path)", allow: "GET, POST")
        case (_, ["repair"]):
            throw LayoutChangeError(405, "use GET on \(path)", allow: "GET")
        case (_, _) where isNodeAction:
            throw LayoutChangeError(405, "use POST on \(path)", allow: "POST")
        default:
            throw LayoutChangeError(404, "no admin route \(request.method) \(path); see GET /admin/nodes and GET /admin/repair")
        }
    }

    /// `POST /admin/nodes/{id}/{action}`.
    private func act(_ action: String, on id: String, _ query: QueryParameters) async throws(LayoutChangeError) -> KnownNode {
        switch action {
        case "drain":
            try refuseUnknown(query, allowing: [])
            return try await layout.setMembership(.draining, of: id, replicas: replicas)
        case "activate":
            try refuseUnknown(query, allowing: [])
            return try await layout.setMembership(.active, of: id, replicas: replicas)
        case "remove":
            try refuseUnknown(query, allowing: ["force"])
            let force = ["true", "1", "yes"].contains(query["force"] ?? "false")
            return try await layout.remove(id, force: force, replicas: replicas, configured: configured)
        case "weight":
            try refuseUnknown(query, allowing: ["value"])
            guard let text = query["value"] else { throw LayoutChangeError(400, "give the weight: …/weight?value=N (or value=capacity)") }
            if text == "capacity" { return try await layout.setWeight(nil, of: id) }
            guard let number = Int(text) else {
                throw LayoutChangeError(400, "a weight is a whole number, or capacity (got \(text.debugDescription))")
            }
            return try await layout.setWeight(number, of: id)
        default:
            throw LayoutChangeError(404, "no admin action \(action); use drain, activate, remove or weight")
        }
    }

    private func refuseUnknown(_ query: QueryParameters, allowing allowed: Set<String>) throws(LayoutChangeError) {
        if let unknown = query.unknown(allowing: allowed) {
            throw LayoutChangeError(400, "unknown query parameter \(unknown)" + (allowed.isEmpty ? "" : "; use \(allowed.sorted().joined(separator: ", "))"))
        }
    }

    private func listing() async throws(LayoutChangeError) -> Layout {
        do {
            let copies = try await layout.metadata.copiesByNode()
            let deletions = try await layout.metadata.deletionsByNode()
            let version = try await layout.metadata.layoutVersion()
            return Layout(version: version, replicas: replicas, nodes: layout.known.map {
                entry($0, copies: copies[$0.id] ?? 0, deletions: deletions[$0.id] ?? 0)
            })
        } catch {
            throw LayoutChangeError(metadata: error, "metadata: \(error)")
        }
    }

    private func entry(_ node: KnownNode) async throws(LayoutChangeError) -> NodeEntry {
        do {
            return entry(node, copies: try await layout.metadata.copiesByNode()[node.id] ?? 0,
                         deletions: try await layout.metadata.deletionsByNode()[node.id] ?? 0)
        } catch {
            throw LayoutChangeError(metadata: error, "metadata: \(error)")
        }
    }

    private func entry(_ node: KnownNode, copies: Int, deletions: Int) -> NodeEntry {
        let health = layout.directory.snapshot().first { $0.node.id == node.id }
        let inDirectory = layout.directory.node(node.id)
        return NodeEntry(id: node.id, address: node.address, zone: node.zone, state: node.membership, weight: node.placementWeight,
                         capacityBytes: node.capacityBytes, usedBytes: inDirectory?.usedBytes, scrub: inDirectory?.scrub,
                         health: health?.health.state.rawValue ?? "gone", copies: copies, pendingDeletions: deletions,
                         drained: node.membership == .draining && copies == 0 && deletions == 0)
    }

    struct RepairReport: Encodable {
        struct Pass: Encodable {
            var startedNs: Int64
            var chunksTotal: Int
            var chunksDone: Int
            var bytesTotal: Int
            var bytesDone: Int
            var rateBytesPerSecond: Double?
            var etaSeconds: Double?
            var lost: Int
            var few: Int
            var misplaced: Int
            var bad: Int
        }
        struct Totals: Encodable {
            var copies: Int
            var bytes: Int
            var failed: Int
        }
        var state: RepairTally.Phase
        var replicas: Int
        var bandwidthBytesPerSecond: Int
        var lostNodes: [String]
        var pass: Pass?
        var totals: Totals
    }

    func repairReport() -> RepairReport {
        let tally = progress.current
        let now = progress.now
        let pass = tally.pass.map {
            RepairReport.Pass(startedNs: $0.startedNanoseconds, chunksTotal: $0.chunksTotal, chunksDone: $0.chunksDone,
                              bytesTotal: $0.bytesTotal, bytesDone: $0.bytesDone, rateBytesPerSecond: tally.rate(at: now),
                              etaSeconds: tally.etaSeconds(at: now), lost: $0.lost, few: $0.few, misplaced: $0.misplaced, bad: $0.bad)
        }
        return RepairReport(state: tally.phase, replicas: replicas, bandwidthBytesPerSecond: progress.bandwidthBytesPerSecond,
                            lostNodes: tally.lostNodes, pass: pass, totals: .init(copies: tally.copies, bytes: tally.bytes, failed: tally.failed))
    }

    /// The repair's progress and the layout version as gauges, for `/metrics`.
    func updateMetrics(_ metrics: NodeMetrics) {
        let tally = progress.current
        let pass = tally.phase == .idle ? nil : tally.pass
        metrics.gauge("flare_api_repair_pass_chunks").set(Double(pass?.chunksTotal ?? 0))
        metrics.gauge("flare_api_repair_pass_chunks_done").set(Double(pass?.chunksDone ?? 0))
        metrics.gauge("flare_api_repair_pass_bytes").set(Double(pass?.bytesTotal ?? 0))
        metrics.gauge("flare_api_repair_pass_bytes_done").set(Double(pass?.bytesDone ?? 0))
        metrics.gauge("flare_api_repair_eta_seconds").set(tally.etaSeconds(at: progress.now) ?? -1)
        metrics.gauge("flare_api_layout_version").set(Double(layout.version))
    }

    private func respond(_ response: HTTPResponseWriter, _ status: Int, _ value: some Encodable) async throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        let body: String
        do {
            body = String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
        } catch {
            return try await response.respondError(500, "cannot encode the answer: \(error)")
        }
        try await response.respond(status: status, headers: ["Content-Type": "application/json"], body: body)
    }
}
