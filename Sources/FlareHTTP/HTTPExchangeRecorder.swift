import FlareCore
import Logging

/// The access log line and the request metrics of one node's exchanges: what the API node
/// and the data nodes record for every request, under their own metric prefix.
///
/// Every exchange counts in `<prefix>_requests_total{method,status}`,
/// `<prefix>_received_bytes_total` and `<prefix>_sent_bytes_total`, and logs one line at
/// `info`. What else a node measures is its own: the histogram an exchange's duration goes
/// into (``latency``), and whether failures count in `<prefix>_errors_total{kind}`.
public struct HTTPExchangeRecorder: Sendable {
    /// A latency histogram (with ``Metrics/latencyBucketsSeconds``) for one exchange.
    public struct Latency: Sendable, Equatable {
        /// The name after the prefix, e.g. `request_seconds`.
        public var name: String
        public var labels: String

        public init(_ name: String, labels: String = "") {
            self.name = name
            self.labels = labels
        }
    }

    public let metricPrefix: String
    public let metrics: Metrics
    public let logger: Logger
    /// Whether an exchange answered 5xx, or failed in the codec or the connection, counts in
    /// `<prefix>_errors_total{kind="http_<status>"}`.
    public let countsErrors: Bool
    /// The histogram an exchange's duration is observed in; `nil` for none (health checks
    /// and metrics scrapes are not what a latency histogram is for).
    public let latency: @Sendable (HTTPExchangeRecord) -> Latency?
    private let requestsTotal: String
    private let receivedBytesTotal: String
    private let sentBytesTotal: String
    private let errorsTotal: String

    public init(metricPrefix: String, metrics: Metrics, logger: Logger, countsErrors: Bool = false,
                latency: @escaping @Sendable (HTTPExchangeRecord) -> Latency?) {
        self.metricPrefix = metricPrefix
        self.metrics = metrics
        self.logger = logger
        self.countsErrors = countsErrors
        self.latency = latency
        requestsTotal = metricPrefix + "_requests_total"
        receivedBytesTotal = metricPrefix + "_received_bytes_total"
        sentBytesTotal = metricPrefix + "_sent_bytes_total"
        errorsTotal = metricPrefix + "_errors_total"
    }

    /// Counts, measures and logs one exchange; the server's `onExchange`.
    public func record(_ record: HTTPExchangeRecord) {
        let seconds = record.duration.secondsValue
        metrics.increment(requestsTotal, labels: "method=\"\(record.method)\",status=\"\(record.status)\"")
        metrics.increment(receivedBytesTotal, by: Double(record.bytesIn))
        metrics.increment(sentBytesTotal, by: Double(record.bytesOut))
        if let latency = latency(record) {
            metrics.observe(metricPrefix + "_" + latency.name, labels: latency.labels, seconds)
        }
        if countsErrors && (record.status >= 500 || record.error != nil) {
            metrics.increment(errorsTotal, labels: "kind=\"http_\(record.status)\"")
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
