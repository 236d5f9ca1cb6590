// Single-stream loopback TCP, 4 GiB per iteration in 4 MiB send/receive calls, measured in
// one run three ways: a blocking send/recv baseline, FlareIO on io_uring, FlareIO on epoll.
// Targets: io_uring ≥ 0.9× and epoll ≥ 0.8× the baseline (see record-results.sh).
import Benchmark
import FlareIO
import Glibc
import LoopbackTransfer

/// Decimal megabytes per second over the transfer itself (connect to end of stream), as
/// measured by the transfer; a custom metric so the figure reads directly as MB/s.
let megabytesPerSecond = BenchmarkMetric.custom("Throughput MB/s", polarity: .prefersLarger, useScalingFactor: false)

/// Iterations are 1–2 s each, so a handful are enough; the first (warm-up) one fills the
/// socket buffers and page tables and is not counted.
func loopbackConfiguration() -> Benchmark.Configuration {
    Benchmark.Configuration(
        metrics: [megabytesPerSecond, .wallClock, .cpuUser, .cpuSystem],
        timeUnits: .milliseconds,
        units: [megabytesPerSecond: .count],
        warmupIterations: 1,
        maxDuration: .seconds(15),
        maxIterations: 5
    )
}

/// Holds a fixture made in `setup`, outside the measured iterations.
final class FixtureBox<Fixture>: @unchecked Sendable {
    var fixture: Fixture?
}

func record(_ result: TransferResult, in benchmark: Benchmark) {
    benchmark.measurement(megabytesPerSecond, Int(result.megabytesPerSecond.rounded()))
}

let benchmarks: @Sendable () -> Void = {
    let blocking = FixtureBox<BlockingLoopback>()
    Benchmark("Loopback 4 GiB blocking send-recv", configuration: loopbackConfiguration()) { benchmark throws in
        record(try blocking.fixture!.transfer(), in: benchmark)
    } setup: {
        blocking.fixture = try BlockingLoopback()
    } teardown: {
        blocking.fixture = nil
    }

    var engines: [IOEngineKind] = [.uring, .epoll]
    if let reason = ioUringUnavailableReason() {
        printToStandardError("FlareIOBenchmarks: io_uring case skipped: \(reason)")
        engines = [.epoll]
    }
    for kind in engines {
        let box = FixtureBox<FlareLoopback>()
        Benchmark("Loopback 4 GiB FlareIO \(kind)", configuration: loopbackConfiguration()) { benchmark async throws in
            record(try await box.fixture!.transfer(), in: benchmark)
        } setup: {
            box.fixture = try FlareLoopback(kind: kind)
        } teardown: {
            try await box.fixture?.close()
            box.fixture = nil
        }
    }
}
