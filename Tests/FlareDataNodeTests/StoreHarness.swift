import FlareCore
import FlareDataNode
import FlareIO
import FlareMetrics
import FlareTestSupport
import Foundation
import Logging

/// Runs `body` on a fresh loop of `engine` with a ``ChunkStore`` over a new data directory
/// (two buffers, at most `waitersMax` tasks waiting for one, its own metrics and quarantine); the loop stops
/// and the directory goes afterwards.
func withChunkStore(_ engine: IOEngineKind, _ label: String, waitersMax: Int = BufferPool.waitersMaxDefault,
                    _ body: @escaping @Sendable (ChunkStore, ChunkStoreStats, EventLoop, String) async throws -> Void) async throws {
    try skipIfUnavailable(engine)
    let directory = try TestDirectory("\(label)-\(engine)")
    defer { directory.remove() }
    let report = try DataDirectory.prepare(directory.data)
    let loop = try EventLoop.start(engine: engine, name: "\(label)-\(engine)")
    defer { loop.shutdown() }
    let data = directory.data
    try await loop.run {
        let stats = ChunkStoreStats(metrics: NodeMetrics(), chunkCount: 0, bytesStored: 0)
        let pool = BufferPool(bufferBytes: ChunkFormat.segmentBytes + ChunkFormat.footerBytes, bufferCount: 2, loop: loop,
                              waitersMax: waitersMax)
        let quarantine = try ChunkQuarantine.load(dataDirectory: data, metrics: stats.metrics, logger: Logger(label: "quarantine"))
        let chunks = ChunkStore(directory: data, usesDirectIO: report.usesDirectIO, loop: loop, pool: pool, stats: stats,
                                quarantine: quarantine)
        try await body(chunks, stats, loop, data)
    }
}
