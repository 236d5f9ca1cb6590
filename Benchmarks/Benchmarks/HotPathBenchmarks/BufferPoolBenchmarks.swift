import Benchmark
import FlareIO

/// The pool the API node keeps per loop for a GET window: eight 4 MiB chunk buffers.
let poolBufferBytes = 4 << 20
let poolBufferCount = 8

/// A loop and the pool that belongs to it (made, used and dropped on that loop).
final class PoolFixture: @unchecked Sendable {
    let loop: EventLoop
    var pool: BufferPool?

    init(loop: EventLoop) { self.loop = loop }
}

/// Lets the loop thread start and stop the measurement while the benchmark's own task
/// awaits it: never used from two threads at once.
struct LoopMeasurement: @unchecked Sendable {
    let benchmark: Benchmark
}

/// One unit of work: `BufferPool.acquire()` on a pool with free buffers, then dropping the
/// `IOBuffer`, which gives it back. Timed on the loop thread between explicit start and
/// stop, so the hop onto the loop (tens of µs) is not counted.
func registerBufferPoolBenchmarks() {
    let box = FixtureBox<PoolFixture>()
    Benchmark("BufferPool acquire-release", configuration: hotPathConfiguration(scalingFactor: .kilo)) { benchmark async throws in
        let fixture = box.fixture!
        let measurement = LoopMeasurement(benchmark: benchmark)
        try await fixture.loop.run {
            let pool = fixture.pool!
            measurement.benchmark.startMeasurement()
            for _ in measurement.benchmark.scaledIterations {
                blackHole(try await pool.acquire())
            }
            measurement.benchmark.stopMeasurement()
            precondition(pool.inUse == 0, "a buffer was not given back")
        }
    } setup: {
        // epoll: the pool never touches the engine, and epoll works where io_uring is blocked.
        let fixture = PoolFixture(loop: try EventLoop.start(engine: .epoll, name: "bench-pool"))
        try await fixture.loop.run {
            fixture.pool = BufferPool(bufferBytes: poolBufferBytes, bufferCount: poolBufferCount, loop: fixture.loop)
        }
        box.fixture = fixture
    } teardown: {
        if let fixture = box.fixture {
            try await fixture.loop.run { fixture.pool = nil }
            fixture.loop.shutdown()
        }
        box.fixture = nil
    }
}
