import CoreMetrics
import FlareCore
import FlareMetrics
import Logging

/// The access log line and the request metrics of one node's exchanges: what the API node
/// and the data nodes record for every request, under their own metric prefix.
///
/// Every exchange counts in `<prefix>_requests_total{method,status}`,
/// `<prefix>_received_bytes_total` and `<prefix>_sent_bytes_total`, and logs one line at
/// `info`. What else a node measures is its own: the histogram an exchange's duration goes
/// into (``latency``), and whether failures count in `<prefix>_errors_total{kind}`.
public struct HTTPExchangeRecorder: Sendable {
    /// A latency histogram (with ``MetricCatalog/latencyBucketsSeconds``) for one exchange.
    public struct Latency: Sendable, Equatable {
        /// The name after the prefix, e.g. `request_seconds`.
        public var name: String
        /// Label names and values, in the family's order.
        public var labels: [(String, String)]

        public init(_ name: String, labels: KeyValuePairs<String, String> = [:]) {
            self.name = name
            self.labels = labels.map { ($0.key, $0.value) }
        }

        public static func == (a: Latency, b: Latency) -> Bool {
            a.name == b.name && a.labels.elementsEqual(b.labels, by: ==)
        }
    }

    public let metricPrefix: String
    public let metrics: NodeMetrics
    public let logger: Logger
    /// Whether an exchange answered 5xx, or failed in the codec or the connection, counts in
    /// `<prefix>_errors_total{kind="http_<status>"}`.
    public let countsErrors: Bool
    /// The histogram an exchange's duration is observed in; `nil` for none (health checks
    /// and metrics scrapes are not what a latency histogram is for).
    public let latency: @Sendable (HTTPExchangeRecord) -> Latency?
    private let requestsTotal: String
    private let receivedBytesTotal: CoreMetrics.Counter
    private let sentBytesTotal: CoreMetrics.Counter
    private let errorsTotal: String

    public init(metricPrefix: String, metrics: NodeMetrics, logger: Logger, countsErrors: Bool = false,
                latency: @escaping @Sendable (HTTPExchangeRecord) -> Latency?) {
        self.metricPrefix = metricPrefix
        self.metrics = metrics
        self.logger = logger
        self.countsErrors = countsErrors
        self.latency = latency
        requestsTotal = metricPrefix + "_requests_total"
        receivedBytesTotal = metrics.counter(metricPrefix + "_received_bytes_total")
        sentBytesTotal = metrics.counter(metricPrefix + "_sent_bytes_total")
        errorsTotal = metricPrefix + "_errors_total"
    }

    /// Counts, measures and logs one exchange; the server's `onExchange`.
    public func record(_ record: HTTPExchangeRecord) {
        metrics.counter(requestsTotal, labels: [("method", record.method), ("status", String(record.status))]).increment()
        receivedBytesTotal.increment(by: record.bytesIn)
        sentBytesTotal.increment(by: record.bytesOut)
        if let latency = latency(record) {
            metrics.timer(metricPrefix + "_" + latency.name, labels: latency.labels).recordSeconds(record.duration.secondsValue)
        }
        if let refusal = record.refusal {
            metrics.counter(metricPrefix + "_refused_total", ["reason": refusal.rawValue]).increment()
        }
        if countsErrors && (record.status >= 500 || record.error != nil) {
            metrics.counter(errorsTotal, ["kind": "http_\(record.status)"]).increment()
        }
        logger.info("\(Self.logLine(record))")
    }

    /// `PUT /chunk/… 201 in=4096 out=0 1.25ms id=1f2e-3a`, then ` trace=<32 hex>` when the
    /// handler ran in a trace and ` error="…"` when the exchange failed: the duration in
    /// milliseconds rounded to two decimals.
    public static func logLine(_ record: HTTPExchangeRecord) -> String {
        let milliseconds = (record.duration.secondsValue * 100_000).rounded() / 100
        return "\(record.method) \(record.target) \(record.status) in=\(record.bytesIn) out=\(record.bytesOut) \(milliseconds)ms id=\(record.requestID)"
            + (record.traceID.map { " trace=\($0)" } ?? "") + (record.error.map { " error=\"\($0)\"" } ?? "")
    }
}
