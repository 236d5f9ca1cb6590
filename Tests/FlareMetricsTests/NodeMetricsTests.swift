import FlareMetrics
import FlareTestSupport
import Foundation
import Testing

@Suite("Node metrics on swift-metrics and swift-prometheus")
struct NodeMetricsTests {
    static let families = [
        MetricFamily("t_requests_total", .counter, labels: ["method", "status"], "Requests answered."),
        MetricFamily("t_in_flight", .gauge, "Requests being served."),
        MetricFamily("t_request_seconds", .histogram, labels: ["method"], "Latency."),
    ]

    @Test("counters, gauges and histograms show in the exposition with the catalog's help and type")
    func exposition() {
        let metrics = NodeMetrics(families: Self.families)
        metrics.counter("t_requests_total", ["method": "GET", "status": "200"]).increment()
        metrics.counter("t_requests_total", ["method": "GET", "status": "200"]).increment(by: 2)
        metrics.counter("t_requests_total", ["method": "PUT", "status": "201"]).increment()
        metrics.gauge("t_in_flight").increment(by: 3)
        metrics.gauge("t_in_flight").decrement(by: 1)
        metrics.timer("t_request_seconds", ["method": "GET"]).recordSeconds(0.003)
        let text = metrics.render()
        #expect(text.contains("# HELP t_requests_total Requests answered.\n# TYPE t_requests_total counter\n"), "\(text)")
        #expect(text.contains("# TYPE t_in_flight gauge\n"), "\(text)")
        #expect(text.contains("# TYPE t_request_seconds histogram\n"), "\(text)")
        #expect(metrics.value("t_requests_total", ["method": "GET", "status": "200"]) == 3)
        #expect(metrics.value("t_requests_total", ["method": "PUT", "status": "201"]) == 1)
        #expect(metrics.value("t_requests_total", ["method": "PUT", "status": "500"]) == nil)
        #expect(metrics.value("t_in_flight") == 2)
        // 3 ms lands in the 5 ms bucket and every one above, not in 2.5 ms.
        #expect(text.contains("t_request_seconds_bucket{method=\"GET\",le=\"0.0025\"} 0"), "\(text)")
        #expect(text.contains("t_request_seconds_bucket{method=\"GET\",le=\"0.005\"} 1"), "\(text)")
        #expect(text.contains("t_request_seconds_bucket{method=\"GET\",le=\"+Inf\"} 1"), "\(text)")
        #expect(text.contains("t_request_seconds_count{method=\"GET\"} 1"), "\(text)")
    }

    @Test("each node's series are its own: two nodes in one process do not share figures")
    func perNode() {
        let a = NodeMetrics(families: Self.families)
        let b = NodeMetrics(families: Self.families)
        a.gauge("t_in_flight").set(5)
        #expect(a.value("t_in_flight") == 5)
        #expect(b.value("t_in_flight") == nil)
        #expect(!b.render().contains("t_in_flight"))
    }

    @Test("the catalog names every family once, with label names Prometheus accepts")
    func catalog() {
        let names = MetricCatalog.families.map(\.name)
        #expect(Set(names).count == names.count, "a family is listed twice")
        for family in MetricCatalog.families {
            #expect(family.name.hasPrefix("flare_api_") || family.name.hasPrefix("flare_datanode_"), "\(family.name)")
            #expect(family.name.allSatisfy { $0.isLowercase || $0 == "_" || $0.isNumber }, "\(family.name)")
            #expect(!family.help.isEmpty, "\(family.name) has no help")
            #expect(family.kind != .counter || family.name.hasSuffix("_total"), "counter \(family.name) does not end in _total")
            #expect(family.labels.allSatisfy { $0 != "le" && !$0.isEmpty }, "\(family.name)")
        }
        #expect(MetricCatalog.family("flare_api_requests_total")?.labels == ["method", "status"])
    }

    @Test("README's metrics table names every family of the catalog, and no other, with its type and labels")
    func readmeTable() throws {
        let readme = try String(contentsOfFile: "\(packageRoot)/README.md", encoding: .utf8)
        var documented: [String: (kind: String, labels: [String])] = [:]
        for row in readme.split(separator: "\n") where row.hasPrefix("| `flare_") {
            let cells = row.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let labels = cells[3].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for name in cells[1].matches(of: /`(flare_[a-z_]+)`/).map({ String($0.output.1) }) {
                documented[name] = (cells[2], labels)
            }
        }
        for family in MetricCatalog.families {
            guard let row = documented[family.name] else {
                Issue.record("README's metrics table does not name \(family.name)")
                continue
            }
            #expect(row.kind == family.kind.rawValue, "\(family.name): README says \(row.kind), the catalog \(family.kind)")
            // A row naming several families lists the labels of those that have any.
            #expect(family.labels.isEmpty || row.labels.starts(with: family.labels), "\(family.name): README's labels \(row.labels), the catalog's \(family.labels)")
        }
        let unknown = Set(documented.keys).subtracting(MetricCatalog.families.map(\.name))
        #expect(unknown.isEmpty, "README names families no node has: \(unknown.sorted())")
    }
}
