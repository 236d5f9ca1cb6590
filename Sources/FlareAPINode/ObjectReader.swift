import FlareCore
import FlareHTTP
import FlareIO
import FlareMetrics
import Tracing
import Logging

/// The GET pipeline: the manifest gives the order; chunks are fetched in parallel, up to
/// `window` at once, into a bounded reorder buffer, each verified against the manifest's
/// CRC32C, and written to the client strictly in order.
struct ObjectReader {
    let pool: BufferPool
    let transport: ChunkTransport
    let metrics: NodeMetrics
    let window: Int
    /// Where a bad replica is reported (chunk id, node, what was wrong) before the next is tried.
    let logger: Logger
    /// A chunk's replicas in the order to try them (suspect and down nodes last).
    var readOrder: @Sendable ([String]) -> [String] = { $0 }
    /// Told of a copy that is bad (missing on a node that answered, wrong length or bytes),
    /// for the repair to make again.
    var onBadCopy: @Sendable (BadReplica) -> Void = { _ in }

    /// Sends `range` of the object. `start` runs when the first chunk is in hand (send the
    /// head there): a failure before it can still become an error response.
    func send(_ manifest: ObjectManifest, range: Range<Int>, start: @escaping () async throws -> Void,
              body: @escaping (UnsafeRawBufferPointer) async throws -> Void) async throws {
        guard !range.isEmpty else {
            try await start()
            return
        }
        // Chunks of an object assembled from multipart parts differ in length: find them by offset.
        let starts = manifest.chunkStarts
        let first = ObjectManifest.chunk(containing: range.lowerBound, starts: starts)
        let last = ObjectManifest.chunk(containing: range.upperBound - 1, starts: starts)
        var reorder = ReorderWindow(indices: first..<(last + 1), windowMax: window)
        var ahead = ReadAhead(windowMax: window)
        var arrived: [Int: IOBuffer] = [:]
        let pool = self.pool, transport = self.transport, metrics = self.metrics, logger = self.logger, readOrder = self.readOrder
        let onBadCopy = self.onBadCopy
        // Fetching ahead never takes the last eighth of the pool: that share stays for
        // requests that hold no buffer yet, whatever slow clients hold.
        let reserve = pool.bufferCount / 8
        try await withThrowingTaskGroup(of: (Int, IOBuffer, Double).self) { group in
            func startFetch(into buffer: IOBuffer) {
                let index = reorder.startNextFetch()
                var chunk = manifest.chunks[index]
                chunk.replicas = readOrder(chunk.replicas)
                group.addTask {
                    let began = ContinuousClock.now
                    // Fetched and verified (CRC32C against the manifest), failing over replicas.
                    try await withSpan("fetch chunk", ofKind: .client) { span in
                        if span.isRecording {
                            span.attributes["flare.chunk"] = "\(chunk.id)"
                            span.attributes["flare.bytes"] = chunk.length
                        }
                        try await transport.fetch(chunk, into: buffer, metrics: metrics) { bad in
                            logger.warning("bad replica: \(bad); \(bad.node == chunk.replicas.last ? "no replica left" : "trying the next")")
                            span.addEvent(SpanEvent(name: "bad replica on \(bad.node)"))
                            if bad.fault.copyIsBad { onBadCopy(bad) }
                        }
                    }
                    return (index, buffer, (ContinuousClock.now - began).secondsValue)
                }
            }
            /// Starts what the read-ahead allows, with buffers that are free beyond the reserve.
            func startFetches(holding: Int) {
                while reorder.nextFetch != nil, reorder.outstanding < ahead.limit,
                      let buffer = pool.tryAcquire(keeping: holding + reorder.outstanding > 0 ? reserve : 0) {
                    startFetch(into: buffer)
                }
            }
            var started = false
            while true {
                // Buffers are taken in chunk order, by this loop, and only free ones while
                // fetches are out: a fetch waiting for a buffer while later chunks hold theirs,
                // or this loop waiting while its own arrived chunks wait to be sent, could
                // leave every GET holding buffers that none can give back. With nothing out,
                // this GET holds none, and may wait in line.
                startFetches(holding: 0)
                if reorder.nextFetch != nil && group.isEmpty { startFetch(into: try await pool.acquire()) }
                guard let (index, buffer, seconds) = try await group.next() else { break }
                ahead.fetched(seconds: seconds)
                reorder.arrived(index)
                arrived[index] = buffer
                while let next = reorder.nextSendable() {
                    let chunkBuffer = arrived.removeValue(forKey: next)!
                    // The next chunks come while this one goes out.
                    startFetches(holding: 1)
                    let chunkStart = starts[next]
                    let from = max(range.lowerBound, chunkStart) - chunkStart
                    let to = min(range.upperBound, chunkStart + chunkBuffer.count) - chunkStart
                    if !started {
                        started = true
                        try await start()
                    }
                    let sending = ContinuousClock.now
                    try await body(UnsafeRawBufferPointer(rebasing: chunkBuffer.bytes[from..<to]))
                    ahead.sent(seconds: (ContinuousClock.now - sending).secondsValue)
                }
            }
            precondition(reorder.isFinished && arrived.isEmpty, "reorder window ended with chunks unsent")
        }
    }
}
