import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata
import FlareMetrics
import Tracing

/// The PUT pipeline's driver: does what ``PutWindow`` asks — fills chunk buffers from the
/// body, sends each full chunk (CRC32C computed as it is filled) while the next one is
/// still arriving, commits the manifest when every chunk is stored — and on any failure
/// commits nothing and deletes every copy sent (or queues what it cannot delete).
struct ObjectWriter {
    let pool: BufferPool
    let transport: ChunkTransport
    let reservations: ChunkIDReservations
    /// Where a new chunk may go, in the order to try (``NodeDirectory/candidates(for:)``).
    let candidates: @Sendable (ChunkID) -> [PutWindow.Candidate]
    /// Copies of every chunk.
    var replicas = 1
    let metadata: MetadataStore
    let metrics: NodeMetrics
    let chunkSize: Int
    let window: Int
    /// Largest object stored (`--max-object-size`): a body past it fails the upload with 413.
    var sizeMax = Int.max

    /// Fills the buffer completely from the body and returns the byte count: less only when
    /// the body ended.
    typealias Fill = (UnsafeMutableRawBufferPointer) async throws(HTTPError) -> Int

    /// Stores the body `fill` reads as `key`; returns the committed manifest. `attributes`
    /// runs once the whole body is stored, before the commit: it gives what the manifest
    /// carries besides its chunks (an S3 PUT's MD5 and headers), or throws to refuse the
    /// upload (a digest that does not match), which then commits nothing. `filled` sees each
    /// chunk's buffer, in order, as soon as it is full (the S3 PUT starts hashing it there); a
    /// buffer it keeps stays out of the pool until it lets go.
    func write(key: String, attributes: () async throws -> ObjectAttributes = { ObjectAttributes() },
               filled: (IOBuffer) async -> Void = { _ in }, fill: Fill) async throws(ObjectWriteError) -> ObjectManifest {
        var state = PutWindow(windowMax: window, replicas: replicas)
        var upload = Upload()
        let transport = self.transport
        // Sends never throw: a failed upload still hears from every send in flight, so the
        // clean-up knows every copy that may have landed.
        let outcome = await withTaskGroup(of: PutWindow.Event.self) { group -> PutWindow.Action in
            var actions = state.start()
            /// The next send's outcome, told to the window.
            func hear() async -> [PutWindow.Action] {
                guard let event = await group.next() else { preconditionFailure("upload waits with nothing in flight") }
                if case .sendFailed(_, .failed(let node, _)) = event { upload.failedNodes.insert(node) }
                return state.handle(event)
            }
            while true {
                guard !actions.isEmpty else {
                    actions = await hear()
                    continue
                }
                let action = actions.removeFirst()
                switch action {
                case .fill:
                    if let buffer = pool.tryAcquire() {
                        actions += state.handle(await fillNext(into: buffer, &upload, fill, filled))
                    } else if group.isEmpty {
                        // Nothing of this upload in flight, so it holds no buffer: it may wait
                        // in line without keeping one from anybody.
                        do throws(BufferPoolBusy) {
                            let buffer = try await pool.acquire()
                            actions += state.handle(await fillNext(into: buffer, &upload, fill, filled))
                        } catch {
                            actions += state.handle(.fillFailed(.busy(error)))
                        }
                    } else {
                        // Every buffer is out. Waiting for one here would stop this upload from
                        // hearing its own sends finish, so the buffers they hold would never go
                        // back — and with every upload doing that, none could move (16 × 64 MiB
                        // PUTs with replicas 2 did). Hear from a send first, then try again.
                        actions += await hear()
                        actions += state.hasFailed ? state.handle(.fillAbandoned) : [.fill]
                    }
                case .send(let send):
                    let buffer = upload.buffers[send.index]!
                    group.addTask {
                        await withSpan("send chunk", ofKind: .client) { span in
                            if span.isRecording {
                                span.attributes["flare.chunk"] = "\(send.id)"
                                span.attributes["flare.node"] = send.node
                                span.attributes["flare.bytes"] = buffer.count
                            }
                            do throws(ChunkTransportError) {
                                try await transport.put(send.id, buffer.bytes, crc32c: send.crc32c, on: send.node)
                                return .stored(index: send.index, node: send.node)
                            } catch {
                                span.setStatus(SpanStatus(code: .error, message: "\(error)"))
                                return .sendFailed(index: send.index, error)
                            }
                        }
                    }
                case .release(let index):
                    upload.buffers[index] = nil
                case .commit, .abort:
                    precondition(actions.isEmpty && group.isEmpty, "upload ended with work left")
                    return action
                }
            }
        }
        switch outcome {
        case .commit(let records, let strays):
            let stored: ObjectAttributes
            do {
                stored = try await attributes()
            } catch {
                await cleanUp(strays + records.flatMap { record in record.replicas.map { ChunkCopy(chunk: record.id, node: $0) } },
                              ids: upload.ids, failedNodes: upload.failedNodes)
                throw .refused(error)
            }
            let manifest = ObjectManifest(key: key, size: upload.size, chunkSize: chunkSize, crc32c: upload.checksum,
                                          createdNanoseconds: wallClockNanoseconds(), chunks: records, attributes: stored)
            do {
                _ = try await withSpan("commit") { span in
                    if span.isRecording { span.attributes["flare.chunks"] = records.count }
                    return try await metadata.commit(manifest, strays: strays.map { ($0.chunk, $0.node) })
                }
            } catch {
                await cleanUp(strays + records.flatMap { record in record.replicas.map { ChunkCopy(chunk: record.id, node: $0) } },
                              ids: upload.ids, failedNodes: upload.failedNodes)
                throw .metadata("commit", error)
            }
            return manifest
        case .abort(let failure, let copies):
            await cleanUp(copies, ids: upload.ids, failedNodes: upload.failedNodes)
            throw failure
        default:
            preconditionFailure("upload ended on \(outcome)")
        }
    }

    /// What one upload holds while its window runs.
    private struct Upload {
        var buffers: [Int: IOBuffer] = [:]
        var ids: [ChunkID] = []
        /// CRC32C of the bytes so far, each chunk's folded in (no second pass over the bytes).
        var checksum: UInt32 = 0
        var size = 0
        var filled = 0
        /// Nodes that failed a send of this upload (not a refusal: those answered).
        var failedNodes: Set<String> = []
    }

    /// Reads the next chunk from the body into `buffer`.
    private func fillNext(into buffer: IOBuffer, _ upload: inout Upload, _ fill: Fill,
                          _ filled: (IOBuffer) async -> Void) async -> PutWindow.Event {
        let read: Result<Int, HTTPError> = await withSpan("read body") { span in
            do throws(HTTPError) {
                let count = try await fill(UnsafeMutableRawBufferPointer(rebasing: buffer.space[0..<chunkSize]))
                if span.isRecording { span.attributes["flare.bytes"] = count }
                return .success(count)
            } catch {
                span.setStatus(SpanStatus(code: .error, message: "\(error)"))
                return .failure(error)
            }
        }
        let count: Int
        switch read {
        case .success(let got): count = got
        case .failure(let error): return .fillFailed(.body(error))
        }
        if count == 0 { return .bodyEnded }
        guard upload.size + count <= sizeMax else { return .fillFailed(.tooLarge(limit: sizeMax)) }
        let id: ChunkID
        do {
            id = try await reservations.take()
        } catch {
            return .fillFailed(.metadata("reserving chunk ids", error))
        }
        buffer.count = count
        let index = upload.filled
        upload.filled += 1
        upload.ids.append(id)
        upload.buffers[index] = buffer
        let crc32c = CRC32C.checksum(buffer.bytes)
        upload.checksum = upload.size == 0 ? crc32c : CRC32C.combine(upload.checksum, crc32c, lengthB: count)
        upload.size += count
        await filled(buffer)
        return .filled(index: index, id: id, length: count, crc32c: crc32c, candidates: candidates(id), last: count < chunkSize)
    }

    /// Deletes the clean-up sends at once: enough to overlap every node's round trip, bounded
    /// like every other queue.
    static let cleanUpDeletesInFlightMax = 16

    /// Deletes every copy an unfinished upload sent; what cannot be deleted now goes to the
    /// persisted deletion queue, and the upload's chunk ids are released. (If even that
    /// fails, the ids stay reserved, and the next start of the api queues their copies.)
    ///
    /// The client's answer waits for this, so it is bounded by about one data-node timeout,
    /// however many copies there are: the deletes run concurrently, and a node that failed a
    /// send of this upload (`failedNodes`) or fails one of these deletes is not asked again —
    /// its copies go straight to the queue, whose worker retries without anyone waiting.
    private func cleanUp(_ copies: [ChunkCopy], ids: [ChunkID], failedNodes: Set<String>) async {
        var left: [(chunk: ChunkID, node: String)] = []
        var skipped = failedNodes
        var waiting = copies[...]
        let transport = self.transport
        await withTaskGroup(of: (ChunkCopy, deleted: Bool).self) { group in
            var inFlight = 0
            while true {
                while inFlight < Self.cleanUpDeletesInFlightMax, let copy = waiting.popFirst() {
                    if skipped.contains(copy.node) {
                        left.append((copy.chunk, copy.node))
                        continue
                    }
                    group.addTask { (copy, await transport.delete(copy.chunk, on: copy.node)) }
                    inFlight += 1
                }
                guard let (copy, deleted) = await group.next() else { break }
                inFlight -= 1
                if !deleted {
                    left.append((copy.chunk, copy.node))
                    skipped.insert(copy.node)
                }
            }
        }
        do {
            try await metadata.releaseChunkIDs(ids, leftovers: left)
        } catch {
            metrics.counter("flare_api_cleanup_deferred_total").increment(by: left.count)
        }
    }
}
