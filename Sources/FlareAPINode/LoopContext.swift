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

    init(loop: EventLoop, pool: BufferPool, dataNodes: DataNodeClient, reservations: ChunkIDReservations) {
        self.loop = loop
        self.pool = pool
        self.dataNodes = dataNodes
        self.reservations = reservations
    }
}
