@testable import FlareAPINode
import FlareCore
import FlareHTTP
import FlareIO
import FlareMetrics
import Synchronization
import Testing

/// The PUT pipeline driven end to end without sockets: in-memory data nodes and metadata,
/// faults injected at every chunk index.
@Suite("PUT pipeline over an in-memory transport: every copy sent is committed, deleted or queued")
struct ObjectWriterTests {
    static let chunkSize = 4096
    static let nodes = ["a:1", "b:2", "c:3"]

    /// A body of `size` bytes whose chunk `k` is filled with the byte `k`, so a fault can
    /// pick a chunk by its first byte.
    static func body(_ size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 / chunkSize) } }

    struct Run {
        var result: Result<ObjectManifest, ObjectWriteError>
        var stock: Int
    }

    /// Writes `body` as key "k" through a writer on an event loop (as an api loop runs it).
    /// `failAfter`: the body fails once that many bytes were read.
    static func write(_ body: [UInt8], transport: InMemoryChunkTransport, metadata: MemoryMetadataStore,
                      nodes: [String] = nodes, window: Int = 3, failAfter: Int? = nil) async throws -> Run {
        let loop = try EventLoop.start(engine: .epoll, name: "writer-test")
        defer { loop.shutdown() }
        return try await loop.run {
            let pool = BufferPool(bufferBytes: chunkSize, bufferCount: window + 1, loop: loop)
            let reservations = ChunkIDReservations(metadata: metadata, batchCount: 4) { body in loop.spawn { await body() } }
            let placement = Placement(nodes: nodes)
            let writer = ObjectWriter(pool: pool, transport: transport, reservations: reservations,
                                      candidates: { id in placement.rank(id).map { PutWindow.Candidate(node: nodes[$0], zone: "default") } },
                                      metadata: metadata, metrics: NodeMetrics(), chunkSize: chunkSize, window: window)
            var offset = 0
            let result: Result<ObjectManifest, ObjectWriteError>
            do throws(ObjectWriteError) {
                result = .success(try await writer.write(key: "k") { buffer throws(HTTPError) in
                    let count = min(buffer.count, body.count - offset)
                    if let failAfter, offset + count > failAfter { throw .connectionClosed("after \(failAfter) bytes of the body") }
                    buffer.copyBytes(from: body[offset..<(offset + count)])
                    offset += count
                    return count
                })
            } catch {
                result = .failure(error)
            }
            #expect(pool.inUse == 0, "the upload kept buffers")
            return Run(result: result, stock: reservations.stockCount)
        }
    }

    /// After a failed upload: nothing committed, every copy still on a node queued for
    /// deletion, every id the upload took released.
    static func expectNothingLeft(_ run: Run, _ transport: InMemoryChunkTransport, _ metadata: MemoryMetadataStore) {
        let state = metadata.state.withLock { $0 }
        #expect(state.objects.isEmpty, "a failed upload committed")
        #expect(transport.held.isSubset(of: Set(state.queued)), "copies left on nodes and not queued: \(transport.held.subtracting(state.queued))")
        #expect(state.reserved.count == run.stock, "ids of the failed upload are still reserved")
    }

    /// The object as the nodes the manifest names hold it.
    static func stored(_ manifest: ObjectManifest, _ transport: InMemoryChunkTransport) -> [UInt8] {
        transport.state.withLock { state in manifest.chunks.flatMap { state.chunks[$0.replicas[0]]?[$0.id] ?? [] } }
    }

    @Test("awkward sizes round-trip; nothing is queued; the ids are reserved in batches, not one write per chunk",
          arguments: [0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 9 * chunkSize + 7])
    func roundTrip(size: Int) async throws {
        let transport = InMemoryChunkTransport(), metadata = MemoryMetadataStore()
        let body = Self.body(size)
        let run = try await Self.write(body, transport: transport, metadata: metadata)
        let manifest = try run.result.get()
        #expect(manifest.size == size && manifest.chunks.count == (size + Self.chunkSize - 1) / Self.chunkSize)
        #expect(Self.stored(manifest, transport) == body)
        #expect(manifest.crc32c == body.withUnsafeBytes { CRC32C.checksum($0) })
        let state = metadata.state.withLock { $0 }
        #expect(state.queued.isEmpty && transport.held.count == manifest.chunks.count)
        #expect(state.reserved.count == run.stock, "committed ids are still reserved")
        #expect(state.reserveWrites <= 1 + manifest.chunks.count / 2, "\(state.reserveWrites) reservation writes for \(manifest.chunks.count) chunks")
    }

    @Test("a node failing chunk k: the next node takes it, the manifest names it, the failed attempt is queued",
          arguments: 0..<6)
    func failOverAtEveryIndex(k: Int) async throws {
        let first = Mutex<String?>(nil)
        let transport = InMemoryChunkTransport { node, bytes in
            guard bytes[0] == UInt8(k) else { return nil }
            // Only the first node asked for chunk k fails it.
            let failing = first.withLock { chosen -> Bool in
                if chosen == nil { chosen = node }
                return chosen == node
            }
            return failing ? .failed(node: node, reason: "injected timeout") : nil
        }
        let metadata = MemoryMetadataStore()
        let body = Self.body(6 * Self.chunkSize)
        let manifest = try await Self.write(body, transport: transport, metadata: metadata).result.get()
        #expect(Self.stored(manifest, transport) == body)
        let failed = try #require(first.withLock { $0 })
        #expect(manifest.chunks[k].replicas != [failed])
        #expect(metadata.state.withLock { $0.queued } == [ChunkCopy(chunk: manifest.chunks[k].id, node: failed)])
    }

    @Test("every node failing chunk k: 503, nothing committed, every copy sent deleted or queued", arguments: 0..<6)
    func allNodesFailAtEveryIndex(k: Int) async throws {
        // Node b:2 also fails its deletes, so some copies can only be queued.
        let transport = InMemoryChunkTransport(deleteFails: ["b:2"]) { node, bytes in
            bytes[0] == UInt8(k) ? .failed(node: node, reason: "status 507") : nil
        }
        let metadata = MemoryMetadataStore()
        let run = try await Self.write(Self.body(6 * Self.chunkSize), transport: transport, metadata: metadata)
        guard case .failure(let error) = run.result else { Issue.record("upload succeeded with chunk \(k) refused everywhere"); return }
        #expect(error.status == 503)
        #expect("\(error)".contains("status 507"), "\(error)")
        Self.expectNothingLeft(run, transport, metadata)
        let sent = Set(transport.state.withLock { $0.puts })
        let deleted = Set(transport.state.withLock { $0.deletes })
        let queued = Set(metadata.state.withLock { $0.queued })
        #expect(sent.isSubset(of: deleted.union(queued)), "copies sent, never deleted nor queued: \(sent.subtracting(deleted.union(queued)))")
    }

    @Test("a node that failed a send (a timeout, say) is not waited for again: its copies are queued, the others deleted at once",
          arguments: 0..<4)
    func failedNodeQueuedNotAsked(k: Int) async throws {
        // The first node asked for chunk k hangs from then on (every send of it fails, as a
        // timeout would); it may hold copies of earlier chunks. The client goes away after chunk k+1.
        let hung = Mutex<String?>(nil)
        let transport = InMemoryChunkTransport { node, bytes in
            guard bytes[0] >= UInt8(k) else { return nil }
            let hanging = hung.withLock { chosen -> Bool in
                if chosen == nil { chosen = node }
                return chosen == node
            }
            return hanging ? .failed(node: node, reason: "timed out waiting for the response") : nil
        }
        let metadata = MemoryMetadataStore()
        let run = try await Self.write(Self.body(6 * Self.chunkSize), transport: transport, metadata: metadata,
                                       failAfter: (k + 2) * Self.chunkSize + 100)
        guard case .failure(.body) = run.result else { Issue.record("\(run.result)"); return }
        Self.expectNothingLeft(run, transport, metadata)
        let node = try #require(hung.withLock { $0 })
        let (puts, deletes) = transport.state.withLock { ($0.puts, $0.deletes) }
        let queued = metadata.state.withLock { $0.queued }
        #expect(!deletes.contains { $0.node == node }, "the clean-up waited on \(node), which had failed a send: \(deletes)")
        #expect(Set(queued) == Set(puts.filter { $0.node == node }), "\(node)'s copies not queued exactly: \(queued)")
        #expect(transport.held.allSatisfy { $0.node == node }, "copies on healthy nodes left: \(transport.held)")
    }

    @Test("clean-up deletes run concurrently (bounded); a node failing one is not asked again, the rest of its copies queued")
    func cleanUpConcurrent() async throws {
        let count = 40
        let healthy = InMemoryChunkTransport(), healthyMetadata = MemoryMetadataStore()
        let run = try await Self.write(Self.body(count * Self.chunkSize), transport: healthy, metadata: healthyMetadata,
                                       failAfter: count * Self.chunkSize - 1)
        guard case .failure(.body) = run.result else { Issue.record("\(run.result)"); return }
        Self.expectNothingLeft(run, healthy, healthyMetadata)
        let most = healthy.state.withLock { $0.deletesInFlightMax }
        #expect(most > 1, "the clean-up deleted one copy after another")
        #expect(most <= ObjectWriter.cleanUpDeletesInFlightMax)

        // One node, failing its deletes: the first wave is asked, everything is queued.
        let failing = InMemoryChunkTransport(deleteFails: ["b:2"]), failingMetadata = MemoryMetadataStore()
        let failed = try await Self.write(Self.body(count * Self.chunkSize), transport: failing, metadata: failingMetadata,
                                          nodes: ["b:2"], failAfter: count * Self.chunkSize - 1)
        guard case .failure(.body) = failed.result else { Issue.record("\(failed.result)"); return }
        Self.expectNothingLeft(failed, failing, failingMetadata)
        let (puts, deletes) = failing.state.withLock { ($0.puts.count, $0.deletes.count) }
        #expect(failingMetadata.state.withLock { $0.queued.count } == puts)
        #expect(deletes < puts, "every one of \(puts) copies was asked for on a node failing its deletes")
    }

    @Test("a refused chunk (a 4xx) is not offered to other nodes")
    func refusedOnce() async throws {
        let transport = InMemoryChunkTransport { node, _ in .refused(node: node, status: 413) }
        let metadata = MemoryMetadataStore()
        let run = try await Self.write(Self.body(10), transport: transport, metadata: metadata)
        #expect(throws: ObjectWriteError.self) { try run.result.get() }
        #expect(transport.state.withLock { $0.puts.count } == 1)
        Self.expectNothingLeft(run, transport, metadata)
    }

    @Test("a body that ends early (the client went away after k chunks): nothing committed, nothing left", arguments: 0..<5)
    func bodyEndsEarly(k: Int) async throws {
        let transport = InMemoryChunkTransport(), metadata = MemoryMetadataStore()
        let run = try await Self.write(Self.body(5 * Self.chunkSize), transport: transport, metadata: metadata,
                                       failAfter: k * Self.chunkSize + 100)
        guard case .failure(.body) = run.result else { Issue.record("\(run.result)"); return }
        Self.expectNothingLeft(run, transport, metadata)
        #expect(transport.held.isEmpty)
    }

    @Test("a commit that fails: 500, every chunk stored is deleted, nothing committed")
    func commitFails() async throws {
        let transport = InMemoryChunkTransport(), metadata = MemoryMetadataStore(failCommits: true)
        let run = try await Self.write(Self.body(3 * Self.chunkSize + 1), transport: transport, metadata: metadata)
        guard case .failure(let error) = run.result else { Issue.record("commit failure not reported"); return }
        #expect(error.status == 500 && "\(error)".contains("commit"), "\(error)")
        Self.expectNothingLeft(run, transport, metadata)
        #expect(transport.held.isEmpty && transport.state.withLock { $0.puts.count } == 4)
    }
}
