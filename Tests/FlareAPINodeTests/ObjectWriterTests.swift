@testable import FlareAPINode
import FlareCore
import FlareHTTP
import FlareIO
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
                      window: Int = 3, failAfter: Int? = nil) async throws -> Run {
        let loop = try EventLoop.start(engine: .epoll, name: "writer-test")
        defer { loop.shutdown() }
        return try await loop.run {
            let pool = BufferPool(bufferBytes: chunkSize, bufferCount: window + 1, loop: loop)
            let reservations = ChunkIDReservations(metadata: metadata, batchCount: 4) { body in loop.spawn { await body() } }
            let placement = Placement(nodes: nodes)
            let writer = ObjectWriter(pool: pool, transport: transport, reservations: reservations,
                                      candidates: { id in placement.rank(id).map { PutWindow.Candidate(node: nodes[$0], zone: "default") } },
                                      metadata: metadata, metrics: Metrics(), chunkSize: chunkSize, window: window)
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
        #expect(sent.isSubset(of: deleted), "copies sent and never deleted: \(sent.subtracting(deleted))")
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
