import FlareCore
import FlareHTTP
import FlareMetrics
import Logging
import Synchronization
import Testing

/// Log lines kept for checking the access log's format; shared by every copy of the handler
/// (`Logger` copies its handler by value).
final class CapturedLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }
}

struct CapturingLogHandler: LogHandler {
    let sink: CapturedLines
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        sink.append("\(event.level) \(event.message)")
    }
}

@Suite("HTTP exchange recorder")
struct ExchangeRecorderTests {
    static func exchange(_ method: String, _ target: String, status: Int, error: String? = nil) -> HTTPExchangeRecord {
        HTTPExchangeRecord(requestID: "ab-1", method: method, target: target, status: status, bytesIn: 4096, bytesOut: 17,
                           started: .now, duration: .microseconds(1234_567), error: error)
    }

    static func recorder(prefix: String, countsErrors: Bool, into captured: CapturedLines) -> (HTTPExchangeRecorder, NodeMetrics) {
        let metrics = NodeMetrics(families: [
            MetricFamily(prefix + "_requests_total", .counter, labels: ["method", "status"], "Requests."),
            MetricFamily(prefix + "_received_bytes_total", .counter, "In."),
            MetricFamily(prefix + "_sent_bytes_total", .counter, "Out."),
            MetricFamily(prefix + "_errors_total", .counter, labels: ["kind"], "Errors."),
            MetricFamily(prefix + "_thing_seconds", .histogram, labels: ["method"], "Things."),
        ])
        let logger = Logger(label: "test") { _ in CapturingLogHandler(sink: captured) }
        let recorder = HTTPExchangeRecorder(metricPrefix: prefix, metrics: metrics, logger: logger, countsErrors: countsErrors) { record in
            record.target.hasPrefix("/thing/") ? .init("thing_seconds", labels: ["method": record.method]) : nil
        }
        return (recorder, metrics)
    }

    @Test("counters under the node's prefix, latency only where the node says, one log line per exchange")
    func countsAndLogs() {
        let captured = CapturedLines()
        let (recorder, metrics) = Self.recorder(prefix: "flare_test", countsErrors: false, into: captured)
        recorder.record(Self.exchange("PUT", "/thing/a", status: 201))
        recorder.record(Self.exchange("GET", "/health", status: 200))
        recorder.record(Self.exchange("GET", "/thing/b", status: 503, error: "data node gone"))
        #expect(metrics.value("flare_test_requests_total", ["method": "PUT", "status": "201"]) == 1)
        #expect(metrics.value("flare_test_requests_total", ["method": "GET", "status": "200"]) == 1)
        #expect(metrics.value("flare_test_received_bytes_total") == Double(3 * 4096))
        #expect(metrics.value("flare_test_sent_bytes_total") == Double(3 * 17))
        #expect(metrics.value("flare_test_errors_total", ["kind": "http_503"]) == nil, "errors are counted only when asked")
        let text = metrics.render()
        #expect(text.contains("flare_test_thing_seconds_count{method=\"PUT\"} 1"), "\(text)")
        #expect(text.contains("flare_test_thing_seconds_count{method=\"GET\"} 1"), "\(text)")
        #expect(!text.contains("_seconds_count{method=\"GET\"} 2"), "the health check was measured: \(text)")
        #expect(captured.all == [
            "info PUT /thing/a 201 in=4096 out=17 1234.57ms id=ab-1",
            "info GET /health 200 in=4096 out=17 1234.57ms id=ab-1",
            "info GET /thing/b 503 in=4096 out=17 1234.57ms id=ab-1 error=\"data node gone\"",
        ])
    }

    @Test("a node that counts errors counts 5xx answers and codec failures by status, not 4xx")
    func errors() {
        let captured = CapturedLines()
        let (recorder, metrics) = Self.recorder(prefix: "flare_test", countsErrors: true, into: captured)
        recorder.record(Self.exchange("GET", "/thing/a", status: 404))
        recorder.record(Self.exchange("GET", "/thing/a", status: 507))
        recorder.record(Self.exchange("-", "-", status: 408, error: "timed out waiting for the head"))
        #expect(metrics.value("flare_test_errors_total", ["kind": "http_404"]) == nil)
        #expect(metrics.value("flare_test_errors_total", ["kind": "http_507"]) == 1)
        #expect(metrics.value("flare_test_errors_total", ["kind": "http_408"]) == 1)
    }
}
