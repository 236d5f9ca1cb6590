import Benchmark
import FlareAPINode

/// Chunks in one simulated GET, and the window the API node reads them with.
let reorderChunkCount = 1024
let reorderWindowChunksMax = 8

/// One unit of work: one whole 1024-chunk read through `ReorderWindow` (window 8), chunks
/// arriving in an order shuffled within the window: start fetches, record each arrival,
/// drain what became sendable — the bookkeeping the API node does per chunk of a GET.
/// record-results.sh multiplies by 1024 for chunks per second.
func registerReorderWindowBenchmarks() {
    let box = FixtureBox<[Int]>()
    let name = "ReorderWindow \(reorderChunkCount) chunks window \(reorderWindowChunksMax)"
    Benchmark(name, configuration: hotPathConfiguration(scalingFactor: .one)) { benchmark in
        let order = box.fixture!
        for _ in benchmark.scaledIterations {
            blackHole(replayRead(arrivals: order))
        }
    } setup: {
        box.fixture = shuffledArrivals(seed: 0x9E37_79B9)
    } teardown: {
        box.fixture = nil
    }
}

/// An arrival order that a real window allows: each arrival is drawn at random from the
/// chunks being fetched at that moment (at most the window's worth).
func shuffledArrivals(seed: UInt64) -> [Int] {
    var state = seed | 1
    var window = ReorderWindow(indices: 0..<reorderChunkCount, windowMax: reorderWindowChunksMax)
    var fetching = window.fetchesToStart()
    var order: [Int] = []
    order.reserveCapacity(reorderChunkCount)
    while !fetching.isEmpty {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        let index = fetching.remove(at: Int(state % UInt64(fetching.count)))
        order.append(index)
        window.arrived(index)
        while window.nextSendable() != nil {}
        fetching += window.fetchesToStart()
    }
    precondition(window.isFinished && order.count == reorderChunkCount)
    return order
}

/// Replays `arrivals` through a fresh window (the same calls, in the same order, that made
/// them, so every arrival is legal); returns the chunks sent.
func replayRead(arrivals: [Int]) -> Int {
    var window = ReorderWindow(indices: 0..<reorderChunkCount, windowMax: reorderWindowChunksMax)
    var started = window.fetchesToStart().count
    var sent = 0
    for index in arrivals {
        window.arrived(index)
        while window.nextSendable() != nil { sent += 1 }
        started += window.fetchesToStart().count
    }
    precondition(window.isFinished && sent == reorderChunkCount && started == reorderChunkCount)
    return sent
}
