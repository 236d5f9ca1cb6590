@testable import FlareAPINode
import FlareCore
import FlareHTTP
import FlareIO
import FlareMetrics
import Synchronization
import Testing

/// Many requests on one loop share its buffer pool, and together they want more buffers
/// than it has. Each must still finish: a request may wait for a buffer only while it holds
/// none, or the pool can end up spread over requests that all wait for one more.
@Suite("Requests sharing a buffer pool smaller than their windows")
struct SharedPoolTests {
    static let chunkSize = 4096
    static let nodes = ["a:1", "b:2", "c:3"]
    static let window = 8

    /// The body of object `object`: chunk `k` filled with `object * 31 + k`.
    static func body(_ object: Int, chunks: Int) -> [UInt8] {
        (0..<(chunks * chunkSize - 5)).map { UInt8(truncatingIfNeeded: object * 31 + $0 / chunkSize) }
    }

    /// Runs `work` on a loop with a pool of `buffers` chunk buffers; fails the test (instead
    /// of hanging the run) when it has not finished within 20 s.
    static func onLoop(buffers: Int, _ work: @escaping @Sendable (EventLoop, BufferPool) async throws -> Void) async throws {
        let loop = try EventLoop.start(engine: .epoll, name: "shared-pool-test")
        let done = Shared<Result<Void, Error>?>(nil)
        let task = loop.spawn {
            let pool = BufferPool(bufferBytes: chunkSize, bufferCount: buffers, loop: loop)
            let result: Result<Void, Error>
            do {
                try await work(loop, pool)
                result = .success(())
            } catch {
                result = .failure(error)
            }
            #expect(pool.inUse == 0, "buffers kept after every request ended")
            done.withLock { $0 = result }
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while done.withLock({ $0 == nil }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        guard let result = done.withLock({ $0 }) else {
            // The stuck requests cannot be cancelled (they wait on the pool); the loop is left
            // running so that nothing frees memory they still point into.
            Issue.record("the requests did not finish within 20 s: they wait on each other's buffers")
            return
        }
        _ = try await task.value
        loop.shutdown()
        try result.get()
    }

    static func writer(_ pool: BufferPool, _ loop: EventLoop, _ transport: InMemoryChunkTransport,
                       _ metadata: MemoryMetadataStore) -> ObjectWriter {
        let reservations = ChunkIDReservations(metadata: metadata, batchCount: 16) { body in loop.spawn { await body() } }
        let placement = Placement(nodes: nodes)
        return ObjectWriter(pool: pool, transport: transport, reservations: reservations,
                            candidates: { id in placement.rank(id).map { PutWindow.Candidate(node: nodes[$0], zone: "default") } },
                            replicas: 2, metadata: metadata, metrics: NodeMetrics(), chunkSize: chunkSize, window: window)
    }

    /// Writes `body` as `key` with `writer`.
    static func put(_ writer: ObjectWriter, _ key: String, _ body: [UInt8]) async throws -> ObjectManifest {
        var offset = 0
        return try await writer.write(key: key) { buffer throws(HTTPError) in
            let count = min(buffer.count, body.count - offset)
            buffer.copyBytes(from: body[offset..<(offset + count)])
            offset += count
            await Task.yield()  // a body arrives over time: let the other uploads in
            return count
        }
    }

    @Test("one upload with a pool of 3 buffers and a window of 8 commits", arguments: [1, 3])
    func smallPool(buffers: Int) async throws {
        let transport = InMemoryChunkTransport(), metadata = MemoryMetadataStore()
        try await Self.onLoop(buffers: buffers) { loop, pool in
            let body = Self.body(0, chunks: 20)
            let manifest = try await Self.put(Self.writer(pool, loop, transport, metadata), "k", body)
            #expect(manifest.chunks.count == 20 && manifest.size == body.count)
        }
    }

    @Test("an upload that fails while its next fill waits for a buffer ends at once: the fill is abandoned, nothing kept")
    func failsWhileWaiting() async throws {
        // Chunk 3 (its first byte is 3) is refused by every node: the upload must fail.
        let transport = InMemoryChunkTransport { node, bytes in bytes[0] == 3 ? .refused(node: node, status: 400) : nil }
        let metadata = MemoryMetadataStore()
        let outcome = Shared<String>("")
        try await Self.onLoop(buffers: 2) { loop, pool in
            do {
                _ = try await Self.put(Self.writer(pool, loop, transport, metadata), "k", Self.body(0, chunks: 20))
                outcome.withLock { $0 = "committed" }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
        }
        #expect(outcome.withLock { $0 } != "committed" && !outcome.withLock { $0 }.isEmpty, "an upload with a refused chunk: \(outcome.withLock { $0 })")
        #expect(metadata.state.withLock { $0.objects.isEmpty })
    }

    @Test("six uploads of 20 chunks, replicas 2, sharing 8 buffers with windows of 8: all commit, byte for byte")
    func concurrentUploads() async throws {
        let transport = InMemoryChunkTransport(), metadata = MemoryMetadataStore()
        let manifests = Shared<[Int: ObjectManifest]>([:])
        try await Self.onLoop(buffers: 8) { loop, pool in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for object in 0..<6 {
                    group.addTask {
                        let writer = Self.writer(pool, loop, transport, metadata)
                        let manifest = try await Self.put(writer, "o/\(object)", Self.body(object, chunks: 20))
                        manifests.withLock { $0[object] = manifest }
                    }
                }
                try await group.waitForAll()
            }
        }
        for (object, manifest) in manifests.withLock({ $0 }) {
            let stored = transport.state.withLock { state in manifest.chunks.flatMap { state.chunks[$0.replicas[1]]?[$0.id] ?? [] } }
            #expect(stored == Self.body(object, chunks: 20), "object \(object)")
        }
        #expect(manifests.withLock { $0.count } == 6)
    }

    @Test("six GETs of 20 chunks sharing 4 buffers with windows of 8: all finish, byte for byte")
    func concurrentReads() async throws {
        let transport = InMemoryChunkTransport(), metadata = MemoryMetadataStore()
        let manifests = Shared<[ObjectManifest]>([])
        try await Self.onLoop(buffers: 64) { loop, pool in
            let writer = Self.writer(pool, loop, transport, metadata)
            for object in 0..<6 {
                let manifest = try await Self.put(writer, "o/\(object)", Self.body(object, chunks: 20))
                manifests.withLock { $0.append(manifest) }
            }
        }
        let written = manifests.withLock { $0 }
        let read = Shared<[Int: [UInt8]]>([:])
        try await Self.onLoop(buffers: 4) { loop, pool in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (object, manifest) in written.enumerated() {
                    group.addTask {
                        let reader = ObjectReader(pool: pool, transport: transport, metrics: NodeMetrics(), window: Self.window,
                                                  logger: .init(label: "shared-pool-test"))
                        var bytes: [UInt8] = []
                        try await reader.send(manifest, range: 0..<manifest.size, start: {}) { piece in
                            bytes += piece
                            await Task.yield()  // a client takes its time
                        }
                        read.withLock { $0[object] = bytes }
                    }
                }
                try await group.waitForAll()
            }
        }
        for object in 0..<6 {
            #expect(read.withLock { $0[object] } == Self.body(object, chunks: 20), "object \(object)")
        }
    }
}

/// A value the tasks of a test fill in, behind a lock (a class, so closures can share it).
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ initial: Value) { value = Mutex(initial) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
}
