import Benchmark
import FlareCore

/// Bytes checksummed: one whole chunk (the data node checksums every chunk it stores and
/// serves), and the same bytes as 1024 page-sized pieces, where per-call overhead shows.
let crcChunkBytes = 4 << 20
let crcPageBytes = 4 << 10

/// The target for one 4 MiB chunk on one core, in decimal GB/s.
let crcTargetGigabytesPerSecond = 8

/// One unit of work: one `CRC32C.checksum(_:)` call over 4 MiB, or over 4 KiB.
func registerCRC32CBenchmarks() {
    let chunk = FixtureBox<PinnedBytes>()
    Benchmark("CRC32C 4 MiB", configuration: hotPathConfiguration(scalingFactor: .one)) { benchmark in
        let bytes = chunk.fixture!.all
        for _ in benchmark.scaledIterations {
            blackHole(CRC32C.checksum(bytes))
        }
    } setup: {
        chunk.fixture = PinnedBytes(count: crcChunkBytes, seed: 1)
    } teardown: {
        chunk.fixture = nil
    }

    let pages = FixtureBox<PinnedBytes>()
    Benchmark("CRC32C 4 KiB", configuration: hotPathConfiguration(scalingFactor: .kilo)) { benchmark in
        let fixture = pages.fixture!
        let pageCount = fixture.count / crcPageBytes
        for iteration in benchmark.scaledIterations {
            blackHole(CRC32C.checksum(fixture.bytes(from: iteration % pageCount * crcPageBytes, count: crcPageBytes)))
        }
    } setup: {
        pages.fixture = PinnedBytes(count: crcChunkBytes, seed: 2)
    } teardown: {
        pages.fixture = nil
    }
}
