import CoreMetrics
import Prometheus

/// swift-metrics' factory over one node's `PrometheusCollectorRegistry`, taking each family's
/// help text and buckets from a catalog.
///
/// Why not swift-prometheus's own `PrometheusMetricsFactory`: it registers every family with an
/// empty help text (swift-metrics has none to give), and its registry stops the process when a
/// family is made a second time with another type, other label names or another help text.
/// Here every family comes from the catalog, so its help and buckets are always the same, and
/// a series that does not fit its family (a name not in the catalog, the wrong type or label
/// names) fails an assertion in debug builds — the tests — and is dropped in release builds
/// rather than stopping a node that serves data.
struct CatalogMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    let families: [String: (family: MetricFamily, descriptor: MetricNameDescriptor)]
    let latencyBuckets: [Duration]

    init(registry: PrometheusCollectorRegistry, families: [MetricFamily]) {
        self.registry = registry
        // The whole name as the descriptor's base name: no namespace, subsystem or unit to join.
        self.families = Dictionary(families.map { ($0.name, ($0, MetricNameDescriptor(metricName: $0.name, unitName: "", helpText: $0.help))) },
                                   uniquingKeysWith: { first, _ in first })
        latencyBuckets = MetricCatalog.latencyBucketsSeconds.map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }
    }

    /// The family `label` names, when it is of `kind` and `dimensions` carry its label names in order.
    private func descriptor(_ label: String, _ kind: MetricFamily.Kind, _ dimensions: [(String, String)]) -> MetricNameDescriptor? {
        guard let (family, descriptor) = families[label] else {
            assertionFailure("metric \(label) is not in the catalog (FlareMetrics/MetricCatalog.swift)")
            return nil
        }
        guard family.kind == kind, family.labels.elementsEqual(dimensions.lazy.map(\.0)) else {
            assertionFailure("metric \(label) made as a \(kind) with labels \(dimensions.map(\.0)); the catalog says \(family.kind) \(family.labels)")
            return nil
        }
        return descriptor
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard let descriptor = descriptor(label, .counter, dimensions) else { return NOOPMetricsHandler.instance }
        return registry.makeCounter(descriptor: descriptor, labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        guard let descriptor = descriptor(label, .counter, dimensions) else { return NOOPMetricsHandler.instance }
        return registry.makeCounter(descriptor: descriptor, labels: dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        guard let descriptor = descriptor(label, .gauge, dimensions) else { return NOOPMetricsHandler.instance }
        return registry.makeGauge(descriptor: descriptor, labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard let descriptor = descriptor(label, aggregate ? .histogram : .gauge, dimensions) else { return NOOPMetricsHandler.instance }
        return aggregate
            ? registry.makeValueHistogram(descriptor: descriptor, labels: dimensions, buckets: MetricCatalog.latencyBucketsSeconds)
            : registry.makeGauge(descriptor: descriptor, labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let descriptor = descriptor(label, .histogram, dimensions) else { return NOOPMetricsHandler.instance }
        return registry.makeDurationHistogram(descriptor: descriptor, labels: dimensions, buckets: latencyBuckets)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
