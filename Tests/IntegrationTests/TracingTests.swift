import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// W3C trace context through the cluster: a client's `traceparent` is continued by the api's
/// spans and carried to every data node a request touches; spans and access lines name it,
/// in text logs and in `--log-format json`.
@Suite("Traces across nodes and JSON logs")
struct TracingTests {
    static func hex(_ count: Int) -> String {
        (0..<count).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
    }

    /// The api's log as JSON objects, one per line (every line must be one).
    static func jsonLines(_ log: String) -> [[String: Any]] {
        log.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? ["unparsed": String(line)]
        }
    }

    @Test("a client's traceparent: the api's spans (JSON log) continue it, every data node that stored or served a chunk logs it; none sent: the api starts one",
          arguments: testedEngines)
    func propagation(engine: IOEngineKind) async throws {
        try await withCluster(engine, "tracing", apiOptions: ["--chunk-size", "64KiB", "--log-level", "debug", "--log-format", "json"],
                              dataNodeOptions: ["--log-level", "debug"]) { cluster in
            let file = try await cluster.randomFile("traced", size: 10 * 65536 + 5)
            let trace = Self.hex(32), clientSpan = Self.hex(16)
            let put = try await cluster.put("traced", file: file, extra: ["-H", "traceparent: 00-\(trace)-\(clientSpan)-01"])
            try #require(put.status == 201, "\(put)")
            let getTrace = Self.hex(32)
            let get = try await cluster.get("traced", to: file + ".out", extra: ["-H", "traceparent: 00-\(getTrace)-\(Self.hex(16))-01"])
            #expect(get.status == 200)
            #expect(try await sameBytes(file, file + ".out", scratch: cluster.scratch.tmp))

            // The api: JSON only, its server span the child of the client's, the stages its children.
            let lines = Self.jsonLines(cluster.api.currentLog())
            #expect(lines.allSatisfy { $0["unparsed"] == nil && $0["time"] is String && $0["level"] is String }, "a line that is not JSON: \(lines.first { $0["unparsed"] != nil } ?? [:])")
            let spans = lines.filter { ($0["message"] as? String)?.hasPrefix("span ") == true && $0["trace_id"] as? String == trace }
            let server = try #require(spans.first { $0["message"] as? String == "span PUT /object/{key}" }, "no server span of the trace: \(spans)")
            #expect(server["parent_id"] as? String == clientSpan, "\(server)")
            #expect(server["http.status_code"] as? String == "201", "\(server)")
            let serverSpan = try #require(server["span_id"] as? String)
            let sends = spans.filter { $0["message"] as? String == "span send chunk" }
            #expect(sends.count == 11 * 2, "11 chunks, 2 copies each: \(sends.count) send spans")
            #expect(sends.allSatisfy { $0["parent_id"] as? String == serverSpan })
            #expect(spans.contains { $0["message"] as? String == "span commit" }, "a commit span")
            #expect(spans.filter { $0["message"] as? String == "span read body" }.count >= 11, "read-body spans")
            #expect(lines.contains { ($0["message"] as? String)?.contains("PUT /object/traced 201") == true && ($0["message"] as? String)?.contains("trace=\(trace)") == true },
                    "the api's access line names the trace")
            let fetches = lines.filter { $0["message"] as? String == "span fetch chunk" && $0["trace_id"] as? String == getTrace }
            #expect(fetches.count == 11, "one fetch span per chunk of the GET: \(fetches.count)")

            // Every data node that holds a copy stored it in the PUT's trace, as a child of one of
            // the api's send spans; its GET /chunk in the GET's trace.
            let sendIDs = Set(sends.compactMap { $0["span_id"] as? String })
            var touched = 0
            for node in cluster.dataNodes where !(try await cluster.chunks(on: node)).isEmpty {
                touched += 1
                let log = node.currentLog()
                let stored = log.split(separator: "\n").filter { $0.contains("PUT /chunk/") && $0.contains(" 201 ") }
                #expect(!stored.isEmpty && stored.allSatisfy { $0.contains("trace=\(trace)") }, "\(node.name): \(stored.prefix(2))")
                let spanLines = log.split(separator: "\n").filter { $0.contains("span PUT /chunk/{id}") && $0.contains("trace_id=\(trace)") }
                #expect(spanLines.count == stored.count, "\(node.name): a server span per stored chunk")
                #expect(spanLines.allSatisfy { line in sendIDs.contains { line.contains("parent_id=\($0)") } }, "\(node.name): parents are the api's sends")
            }
            #expect(touched == 3, "every node holds copies of 11 chunks × 2")
            var served = 0
            for node in cluster.dataNodes { served += node.currentLog().split(separator: "\n").filter { $0.contains("GET /chunk/") && $0.contains("trace=\(getTrace)") }.count }
            #expect(served == 11, "11 chunk fetches in the GET's trace: \(served)")

            // No traceparent (or a malformed one): the api starts a trace and the nodes get it.
            for header in [[], ["-H", "traceparent: not-a-trace"]] {
                let untraced = try await cluster.put("untraced", file: file, extra: header)
                #expect(untraced.status == 201)
                let access = try #require(Self.jsonLines(cluster.api.currentLog()).last { ($0["message"] as? String)?.contains("PUT /object/untraced 201") == true })
                let started = try #require((access["message"] as? String)?.split(separator: " ").first { $0.hasPrefix("trace=") }?.dropFirst(6))
                #expect(started.count == 32 && started != Substring(trace))
                var seen = 0
                for node in cluster.dataNodes { seen += node.currentLog().components(separatedBy: "trace=\(started)").count - 1 }
                #expect(seen == 22, "the api's own trace on the data nodes' 22 stores: \(seen)")
            }
        }
    }
}
