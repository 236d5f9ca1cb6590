import CoreMetrics
import Prometheus
import Synchronization

/// One node's metrics: swift-metrics counters, meters (gauges) and timers (histograms) made
/// through a factory over this node's own Prometheus registry, and their text exposition for
/// `GET /metrics`.
///
/// A factory per node rather than `MetricsSystem.bootstrap`'s process-wide one: tests run
/// several nodes in one process, and each node's `/metrics` must show its own figures.
/// Handles are made once per series and kept, so counting is a dictionary lookup under a short
/// lock and an atomic add: a few per request, far from the byte path.
public final class NodeMetrics: Sendable {
    /// The swift-metrics factory of this node's series, for code that makes its own handles.
    public let factory: any MetricsFactory
    private let registry: PrometheusCollectorRegistry

    private struct Handles {
        var counters: [String: CoreMetrics.Counter] = [:]
        var meters: [String: Meter] = [:]
        var timers: [String: CoreMetrics.Timer] = [:]
    }

    private let handles = Mutex(Handles())

    /// A node whose series must belong to `families` (every Flare family by default).
    public init(families: [MetricFamily] = MetricCatalog.families) {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        factory = CatalogMetricsFactory(registry: registry, families: families)
    }

    /// The counter of `name` with these label values (in the catalog's label order).
    public func counter(_ name: String, _ labels: KeyValuePairs<String, String> = [:]) -> CoreMetrics.Counter {
        counter(name, labels: labels.map { ($0.key, $0.value) })
    }

    /// The same, with the labels as a list (for label sets made at run time).
    public func counter(_ name: String, labels: [(String, String)]) -> CoreMetrics.Counter {
        handle(name, labels, \.counters) { CoreMetrics.Counter(label: name, dimensions: labels, factory: factory) }
    }

    /// The gauge of `name` with these label values: `set`, `increment(by:)`, `decrement(by:)`.
    public func gauge(_ name: String, _ labels: KeyValuePairs<String, String> = [:]) -> Meter {
        gauge(name, labels: labels.map { ($0.key, $0.value) })
    }

    /// The same, with the labels as a list (for label sets made at run time).
    public func gauge(_ name: String, labels: [(String, String)]) -> Meter {
        handle(name, labels, \.meters) { Meter(label: name, dimensions: labels, factory: factory) }
    }

    /// The latency histogram of `name` with these label values (buckets: ``MetricCatalog/latencyBucketsSeconds``).
    public func timer(_ name: String, _ labels: KeyValuePairs<String, String> = [:]) -> CoreMetrics.Timer {
        timer(name, labels: labels.map { ($0.key, $0.value) })
    }

    /// The same, with the labels as a list (for label sets made at run time).
    public func timer(_ name: String, labels: [(String, String)]) -> CoreMetrics.Timer {
        handle(name, labels, \.timers) { CoreMetrics.Timer(label: name, dimensions: labels, factory: factory) }
    }

    /// Every series in the Prometheus text exposition format (version 0.0.4).
    public func render() -> String { registry.emitToString() }

    /// The value of one counter or gauge series as `/metrics` shows it, `nil` when it has none:
    /// what tests and summaries read back (swift-metrics handles are write-only).
    public func value(_ name: String, _ labels: KeyValuePairs<String, String> = [:]) -> Double? {
        let series = labels.isEmpty ? name : name + "{" + labels.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
        for line in render().split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.utf8.count + 1))
        }
        return nil
    }

    /// The handle kept for `name` and `labels` in the table at `table`, made once.
    private func handle<Handle: Sendable>(_ name: String, _ labels: [(String, String)], _ table: WritableKeyPath<Handles, [String: Handle]>,
                                make: () -> Handle) -> Handle {
        let key = Self.key(name, labels)
        return handles.withLock { handles in
            if let handle = handles[keyPath: table][key] { return handle }
            let handle = make()
            handles[keyPath: table][key] = handle
            return handle
        }
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        var key = name
        for (label, value) in labels {
            key += "\u{1}" + label + "=" + value
        }
        return key
    }
}
