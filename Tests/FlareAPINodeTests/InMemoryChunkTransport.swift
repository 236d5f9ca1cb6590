@testable import FlareAPINode
import FlareCore
import FlareIO
import Synchronization

/// Data nodes in memory, for driving the pipelines without sockets. Faults are injected per
/// call: `putFault` sees the node and the chunk's bytes (tests mark each chunk's first byte
/// with its index) and may fail the put; `deleteFails` names nodes whose deletes fail.
final class InMemoryChunkTransport: ChunkTransport, @unchecked Sendable {
    struct State {
        var chunks: [String: [ChunkID: [UInt8]]] = [:]
        var puts: [ChunkCopy] = []
        var deletes: [ChunkCopy] = []
        var deletesInFlight = 0
        /// The most deletes that were ever in flight at once.
        var deletesInFlightMax = 0
    }

    let state = Mutex(State())
    let putFault: @Sendable (_ node: String, _ bytes: UnsafeRawBufferPointer) -> ChunkTransportError?
    let deleteFails: Set<String>

    init(deleteFails: Set<String> = [],
         putFault: @escaping @Sendable (_ node: String, _ bytes: UnsafeRawBufferPointer) -> ChunkTransportError? = { _, _ in nil }) {
        self.putFault = putFault
        self.deleteFails = deleteFails
    }

    /// Every copy held, as `chunk@node`.
    var held: Set<ChunkCopy> {
        state.withLock { state in Set(state.chunks.flatMap { node, chunks in chunks.keys.map { ChunkCopy(chunk: $0, node: node) } }) }
    }

    func put(_ id: ChunkID, _ bytes: UnsafeRawBufferPointer, crc32c: UInt32, on node: String) async throws(ChunkTransportError) {
        await Task.yield()  // let other sends and the next fill interleave, as real I/O would
        state.withLock { $0.puts.append(ChunkCopy(chunk: id, node: node)) }
        if let fault = putFault(node, bytes) { throw fault }
        precondition(CRC32C.checksum(bytes) == crc32c, "the pipeline sent a checksum that does not match its bytes")
        state.withLock { $0.chunks[node, default: [:]][id] = Array(bytes) }
    }

    func get(_ id: ChunkID, length: Int, from node: String, into buffer: IOBuffer) async throws(ChunkTransportError) -> UInt32 {
        guard let bytes = state.withLock({ $0.chunks[node]?[id] }) else { throw .unreadable(node: node, fault: .missing, reason: "status 404") }
        guard bytes.count == length else { throw .unreadable(node: node, fault: .length, reason: "length \(bytes.count)") }
        buffer.space.copyBytes(from: bytes)
        return bytes.withUnsafeBytes { CRC32C.checksum($0) }
    }

    func delete(_ id: ChunkID, on node: String) async -> Bool {
        state.withLock {
            $0.deletes.append(ChunkCopy(chunk: id, node: node))
            $0.deletesInFlight += 1
            $0.deletesInFlightMax = max($0.deletesInFlightMax, $0.deletesInFlight)
        }
        // A round trip: other deletes of the same clean-up may start meanwhile.
        for _ in 0..<3 { await Task.yield() }
        state.withLock { $0.deletesInFlight -= 1 }
        guard !deleteFails.contains(node) else { return false }
        state.withLock { _ = $0.chunks[node]?.removeValue(forKey: id) }
        return true
    }
}
