import Synchronization

/// Prometheus counters, gauges and histograms for one process, rendered as text for
/// `GET /metrics`. Updates take a short lock: a few per request, far from the byte path.
public final class Metrics: Sendable {
    /// Latency buckets in seconds, from 100 µs to 10 s.
    public static let latencyBucketsSeconds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                         0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct Histogram {
        var buckets: [Double]
        var counts: [UInt64]
        var sum = 0.0
        var count: UInt64 = 0
    }

    private struct State {
        var help: [String: (type: String, text: String)] = [:]
        var counters: [String: [String: Double]] = [:]
        var gauges: [String: [String: Double]] = [:]
        var histograms: [String: [String: Histogram]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Declares a metric's type and help text (shown once in the output).
    public func describe(_ name: String, type: String, _ help: String) {
        state.withLock { $0.help[name] = (type, help) }
    }

    /// Adds to a counter.
    public func increment(_ name: String, labels: String = "", by value: Double = 1) {
        state.withLock { $0.counters[name, default: [:]][labels, default: 0] += value }
    }

    /// Sets a gauge.
    public func set(_ name: String, labels: String = "", _ value: Double) {
        state.withLock { $0.gauges[name, default: [:]][labels] = value }
    }

    /// Adds to a gauge (negative to subtract).
    public func add(_ name: String, labels: String = "", _ value: Double) {
        state.withLock { $0.gauges[name, default: [:]][labels, default: 0] += value }
    }

    /// Records one observation in a histogram with the latency buckets.
    public func observe(_ name: String, labels: String = "", _ value: Double) {
        state.withLock { state in
            var histogram = state.histograms[name]?[labels]
                ?? Histogram(buckets: Self.latencyBucketsSeconds, counts: Array(repeating: 0, count: Self.latencyBucketsSeconds.count))
            if let index = histogram.buckets.firstIndex(where: { value <= $0 }) { histogram.counts[index] += 1 }
            histogram.sum += value
            histogram.count += 1
            state.histograms[name, default: [:]][labels] = histogram
        }
    }

    /// The current value of a counter or gauge (for tests and summaries).
    public func value(_ name: String, labels: String = "") -> Double? {
        state.withLock { $0.counters[name]?[labels] ?? $0.gauges[name]?[labels] }
    }

    /// Prometheus text exposition format.
    public func render() -> String {
        state.withLock { state in
            var out = ""
            func header(_ name: String, _ fallbackType: String) {
                let help = state.help[name]
                if let help { out += "# HELP \(name) \(help.text)\n" }
                out += "# TYPE \(name) \(help?.type ?? fallbackType)\n"
            }
            func series(_ name: String, _ labels: String, _ extra: String = "") -> String {
                let all = [labels, extra].filter { !$0.isEmpty }.joined(separator: ",")
                return all.isEmpty ? name : "\(name){\(all)}"
            }
            for name in state.counters.keys.sorted() {
                header(name, "counter")
                for (labels, value) in state.counters[name]!.sorted(by: { $0.key < $1.key }) {
                    out += "\(series(name, labels)) \(format(value))\n"
                }
            }
            for name in state.gauges.keys.sorted() {
                header(name, "gauge")
                for (labels, value) in state.gauges[name]!.sorted(by: { $0.key < $1.key }) {
                    out += "\(series(name, labels)) \(format(value))\n"
                }
            }
            for name in state.histograms.keys.sorted() {
                header(name, "histogram")
                for (labels, histogram) in state.histograms[name]!.sorted(by: { $0.key < $1.key }) {
                    var cumulative: UInt64 = 0
                    for (bound, count) in zip(histogram.buckets, histogram.counts) {
                        cumulative += count
                        out += "\(series(name + "_bucket", labels, "le=\"\(format(bound))\"")) \(cumulative)\n"
                    }
                    out += "\(series(name + "_bucket", labels, "le=\"+Inf\"")) \(histogram.count)\n"
                    out += "\(series(name + "_sum", labels)) \(format(histogram.sum))\n"
                    out += "\(series(name + "_count", labels)) \(histogram.count)\n"
                }
            }
            return out
        }
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
