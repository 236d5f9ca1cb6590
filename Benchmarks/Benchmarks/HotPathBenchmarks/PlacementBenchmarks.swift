import Benchmark
import FlareCore

/// Distinct chunk ids ranked in turn, so no branch predictor or cache learns a single id.
let placementIDCount = 1024

/// One unit of work: one `Placement.rank(_:)` (every node scored and sorted), as the API
/// node does for every chunk it writes. 3 nodes is the local cluster; 100 is a large one.
func registerPlacementBenchmarks() {
    for nodeCount in [3, 100] {
        let box = FixtureBox<(placement: Placement, ids: [ChunkID])>()
        Benchmark("Placement rank \(nodeCount) nodes", configuration: hotPathConfiguration(scalingFactor: .kilo)) { benchmark in
            let (placement, ids) = box.fixture!
            for iteration in benchmark.scaledIterations {
                blackHole(placement.rank(ids[iteration % ids.count]))
            }
        } setup: {
            let nodes = (0..<nodeCount).map { "10.0.\($0 / 250).\($0 % 250 + 1):9001" }
            box.fixture = (Placement(nodes: nodes), seededChunkIDs(count: placementIDCount))
        } teardown: {
            box.fixture = nil
        }
    }
}

/// `count` ids from a fixed xorshift stream: the same ids in every run.
func seededChunkIDs(count: Int) -> [ChunkID] {
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    return (0..<count).map { _ in ChunkID(high: next(), low: next()) }
}
