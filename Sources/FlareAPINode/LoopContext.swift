import FlareCore
import FlareIO

/// What one event loop of the API node owns: its chunk buffers, its data-node transport and
/// its stock of reserved chunk ids. A request uses the context of the loop that accepted
/// it, start to end.
final class LoopContext: @unchecked Sendable {
    let loop: EventLoop
    let pool: BufferPool
    let dataNodes: DataNodeClient
    let reservations: ChunkIDReservations
    /// One buffer per server-side copy in progress on this loop (the source chunk being
    /// read); apart from `pool`, so a copy never waits on the buffers its own writer holds.
    let copyPool: BufferPool

    /// Server-side copies at once per loop; more wait in line for a buffer.
    static let copiesPerLoop = 4

    init(loop: EventLoop, pool: BufferPool, dataNodes: DataNodeClient, reservations: ChunkIDReservations) {
        self.loop = loop
        self.pool = pool
        // Untouched until a copy runs: an api that never copies keeps none of it resident.
        self.copyPool = BufferPool(bufferBytes: pool.bufferBytes, bufferCount: Self.copiesPerLoop, loop: loop, prefaultCount: 0)
        self.dataNodes = dataNodes
        self.reservations = reservations
    }
}
