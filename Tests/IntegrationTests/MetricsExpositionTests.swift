import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// `/metrics` of every node read by a real Prometheus parser (prometheus_client, from PyPI),
/// counters moving with the requests made, and every family named in the README's table.
@Suite("Metrics: Prometheus text on every node")
struct MetricsExpositionTests {
    /// Parses each file given with prometheus_client; prints `family type` per family found,
    /// and `sample name value` for the samples asked for on the command line after `--`.
    static let script = #"""
    import sys
    from prometheus_client.parser import text_string_to_metric_families
    files = sys.argv[1:]
    for path in files:
        with open(path) as f:
            text = f.read()
        for family in text_string_to_metric_families(text):
            print("family", path.rsplit("/", 1)[-1], family.name, family.type)
            for sample in family.samples:
                labels = ",".join("%s=%s" % kv for kv in sorted(sample.labels.items()))
                print("sample", path.rsplit("/", 1)[-1], sample.name, labels, repr(float(sample.value)))
    print("parsed OK")
    """#

    struct Sample: Hashable { var node: String; var name: String; var labels: String }

    static func scrape(_ cluster: Cluster, _ round: String) async throws -> (families: Set<String>, samples: [Sample: Double]) {
        var files: [String] = []
        for (index, node) in ([cluster.api] + cluster.dataNodes).enumerated() {
            let path = "\(cluster.scratch.files)/\(round)-\(index == 0 ? "api" : "datanode\(index)")"
            let answer = try await curl(["\(node.base)/metrics"], scratch: cluster.scratch.tmp, bodyTo: path)
            try #require(answer.status == 200, "\(node.name) /metrics: \(answer)")
            files.append(path)
        }
        let script = "\(cluster.scratch.tmp)/parse-metrics.py"
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        let run = try await runProgram("/usr/bin/env", ["python3", script] + files, in: cluster.scratch.tmp)
        try #require(run.status == 0 && run.stdout.contains("parsed OK"), "prometheus_client refused a /metrics: \(run.stderr.suffix(2000))")
        var families: Set<String> = [], samples: [Sample: Double] = [:]
        for line in run.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            if fields.first == "family", fields.count == 4 { families.insert(fields[2]) }
            if fields.first == "sample", fields.count == 5, let value = Double(fields[4]) {
                samples[Sample(node: String(fields[1].split(separator: "-").last!), name: fields[2], labels: fields[3])] = value
            }
        }
        return (families, samples)
    }

    @Test("every node's /metrics parses; request and byte counters move by what was sent; every family is in the README's table",
          arguments: testedEngines)
    func exposition(engine: IOEngineKind) async throws {
        try await withCluster(engine, "metrics", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let before = try await Self.scrape(cluster, "before")
            let file = try await cluster.randomFile("m", size: 5 * 65536)
            for index in 0..<3 {
                #expect(try await cluster.put("m\(index)", file: file).status == 201)
                #expect(try await cluster.get("m\(index)", to: file + ".out").status == 200)
            }
            let after = try await Self.scrape(cluster, "after")
            func moved(_ node: String, _ name: String, labels: String) -> Double {
                (after.samples[Sample(node: node, name: name, labels: labels)] ?? 0) - (before.samples[Sample(node: node, name: name, labels: labels)] ?? 0)
            }
            #expect(moved("api", "flare_api_requests_total", labels: "method=PUT,status=201") == 3)
            // The three GETs and the first scrape (counted once it was answered).
            #expect(moved("api", "flare_api_requests_total", labels: "method=GET,status=200") == 4)
            #expect(moved("api", "flare_api_request_seconds_count", labels: "method=PUT") == 3)
            #expect(moved("api", "flare_api_received_bytes_total", labels: "") >= Double(3 * 5 * 65536))
            #expect(moved("api", "flare_api_sent_bytes_total", labels: "") >= Double(3 * 5 * 65536))
            // 15 chunks, 2 copies each, spread over three nodes.
            var stored = 0.0
            for node in ["datanode1", "datanode2", "datanode3"] { stored += moved(node, "flare_datanode_requests_total", labels: "method=PUT,status=201") }
            #expect(stored == 30, "chunk PUTs counted on the data nodes: \(stored)")

            let readme = try String(contentsOfFile: "\(packageRoot)/README.md", encoding: .utf8)
            let table = readme.split(separator: "\n").filter { $0.hasPrefix("| `flare_") }.joined(separator: "\n")
            // prometheus_client names a counter's family without its `_total`.
            let named = { (family: String) in table.contains("`\(family)`") || table.contains("`\(family)_total`") }
            let missing = after.families.filter { !named($0) }.sorted()
            #expect(missing.isEmpty, "families on /metrics that README's metrics table does not name: \(missing)")
            // The Grafana dashboard asks only for families that exist.
            let dashboard = try String(contentsOfFile: "\(packageRoot)/docs/grafana-dashboard.json", encoding: .utf8)
            _ = try JSONSerialization.jsonObject(with: Data(dashboard.utf8))
            let asked = Set(dashboard.matches(of: /flare_[a-z_]+/).map { String($0.output) }
                .map { $0.replacing(/_(bucket|sum|count)$/, with: "") })
            let unknown = asked.filter { !table.contains("`\($0)`") }.sorted()
            #expect(unknown.isEmpty, "the dashboard asks for families README does not name: \(unknown)")
        }
    }
}
