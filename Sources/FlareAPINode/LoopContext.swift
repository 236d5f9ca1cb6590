import FlareCore
import FlareIO

/// What one event loop of the API node owns: its chunk buffers and its data-node client.
/// A request uses the context of the loop that accepted it, start to end.
final class LoopContext: @unchecked Sendable {
    let loop: EventLoop
    let pool: BufferPool
    let dataNodes: DataNodeClient

    init(loop: EventLoop, pool: BufferPool, dataNodes: DataNodeClient) {
        self.loop = loop
        self.pool = pool
        self.dataNodes = dataNodes
    }
}

/// Chunk copies an upload sent (or started sending), for cleanup when it fails.
final class AttemptedCopies: @unchecked Sendable {
    private(set) var copies: [(chunk: ChunkID, node: String)] = []
    func add(_ chunk: ChunkID, _ node: String) { copies.append((chunk, node)) }
}
