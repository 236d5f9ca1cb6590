import FlareCore
import Histogram

/// Latencies of one client, in microseconds, in an HdrHistogram (3 significant digits).
struct LatencyRecorder: Sendable {
    private(set) var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)

    mutating func record(_ duration: Duration) {
        let micros = duration.secondsValue * 1_000_000
        _ = histogram.record(UInt64(max(1, min(micros, 600_000_000))))
    }

    mutating func merge(_ other: LatencyRecorder) {
        histogram.add(other.histogram)
    }

    /// p50/p90/p99/max in milliseconds.
    var percentiles: Percentiles {
        guard histogram.totalCount > 0 else { return Percentiles(p50: 0, p90: 0, p99: 0, max: 0) }
        func ms(_ micros: UInt64) -> Double { (Double(micros) / 10).rounded() / 100 }
        return Percentiles(p50: ms(histogram.valueAtPercentile(50)), p90: ms(histogram.valueAtPercentile(90)),
                           p99: ms(histogram.valueAtPercentile(99)), max: ms(histogram.max))
    }
}
