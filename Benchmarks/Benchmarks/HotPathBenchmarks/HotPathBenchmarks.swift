// The pieces every request or every chunk goes through, measured one at a time: HTTP head
// parsing, CRC32C, rendezvous placement, the GET reorder window and the buffer pool.
// Each benchmark names its unit of work ("one head", "one 4 MiB checksum"); the throughput
// metric counts those units per second (inner loops run `benchmark.scaledIterations`), and
// record-results.sh turns the medians into bench-results/hot-paths.md.
import Benchmark

let benchmarks: @Sendable () -> Void = {
    registerHeadParserBenchmarks()
    registerCRC32CBenchmarks()
    registerPlacementBenchmarks()
    registerReorderWindowBenchmarks()
    registerBufferPoolBenchmarks()
}

/// Time budget of one benchmark, so that the whole target runs in well under a minute.
let hotPathDurationSeconds = 2

/// The configuration every hot-path benchmark uses.
///
/// - Parameter scalingFactor: units of work per measured iteration, so that one iteration
///   takes 0.1–10 ms: long enough that the clock reads around it do not count, short enough
///   for hundreds of samples. The throughput row then reads in units of work per second
///   (iterations per second, labelled with the factor), and the rows marked `*` (wall clock,
///   mallocs) per unit of work.
func hotPathConfiguration(scalingFactor: BenchmarkScalingFactor) -> Benchmark.Configuration {
    Benchmark.Configuration(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 10,
        scalingFactor: scalingFactor,
        maxDuration: .seconds(hotPathDurationSeconds),
        maxIterations: 1_000_000
    )
}

/// Holds a fixture made in `setup`, outside the measured iterations.
final class FixtureBox<Fixture>: @unchecked Sendable {
    var fixture: Fixture?
}
