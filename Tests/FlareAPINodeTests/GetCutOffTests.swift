@testable import FlareAPINode
import FlareCluster
import FlareCore
import FlareHTTP
import FlareIO
import FlareMetrics
import FlareTestSupport
import Foundation
import Testing

/// A data node played by a raw peer: answers every request on a connection with `status`
/// and `body`, keep-alive, until the client closes.
func answeringPeer(on loop: EventLoop, status: Int, body: [UInt8]) throws -> ScriptedPeer {
    try ScriptedPeer(on: loop) { _, connection in
        while try await readRequestHead(connection) {
            try await sendBytes(connection, Array("HTTP/1.1 \(status) X\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        }
    }
}

/// GET through the api's own routes, served on a real socket to curl: once the head is out, a
/// chunk no replica can serve cuts the connection, so the client sees a body shorter than its
/// Content-Length — never a response that looks complete.
@Suite("API node: a GET that fails after its head is cut off", .timeLimit(.minutes(2)))
struct GetCutOffTests {
    static let chunkSize = 64 * 1024
    static let chunk = (0..<chunkSize).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    /// An object of two chunks with the same bytes, on the nodes named.
    static func manifest(_ key: String, _ first: String, _ second: String) -> ObjectManifest {
        let crc = chunk.withUnsafeBytes { CRC32C.checksum($0) }
        var whole = CRC32C()
        for _ in 0..<2 { chunk.withUnsafeBytes { whole.update($0) } }
        return ObjectManifest(key: key, size: 2 * chunkSize, chunkSize: chunkSize, crc32c: whole.value, createdNanoseconds: 1,
                              chunks: [ChunkRecord(index: 0, id: ChunkID.random(), length: chunkSize, crc32c: crc, replicas: [first]),
                                       ChunkRecord(index: 1, id: ChunkID.random(), length: chunkSize, crc32c: crc, replicas: [second])])
    }

    @Test("whole object → complete body; second chunk unservable → 200 cut short (curl exit 18); first chunk unservable → 503",
          arguments: testedEngines)
    func cutOff(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "cutoff-\(engine)")
        defer { loop.shutdown() }
        let good = try answeringPeer(on: loop, status: 200, body: Self.chunk)
        let bad = try answeringPeer(on: loop, status: 500, body: [])
        let goodNode = "127.0.0.1:\(good.address.port)", badNode = "127.0.0.1:\(bad.address.port)"
        let metadata = MemoryMetadataStore()
        metadata.state.withLock { state in
            for manifest in [Self.manifest("whole", goodNode, goodNode), Self.manifest("cut", goodNode, badNode),
                             Self.manifest("none", badNode, goodNode)] {
                state.objects["flare/\(manifest.key)"] = manifest  // native keys live in the bucket flare
            }
        }
        var config = APINodeConfig()
        config.chunkSizeBytes = Self.chunkSize
        // One chunk in flight: the second is fetched only after the first went out with the head.
        config.windowChunks = 1
        let metrics = NodeMetrics()
        let context = try await loop.run { [config] in
            LoopContext(loop: loop, pool: BufferPool(bufferBytes: config.chunkSizeBytes, bufferCount: 2, loop: loop),
                        dataNodes: DataNodeClient(loop: loop, directory: .of([goodNode: good.address, badNode: bad.address]),
                                                  metrics: metrics, timeout: .seconds(5)),
                        reservations: ChunkIDReservations(metadata: metadata, batchCount: 4) { body in loop.spawn { await body() } })
        }
        let directory = NodeDirectory.of([goodNode: good.address, badNode: bad.address])
        let badCopies = BadCopies()
        let routes = APIRoutes(contexts: [ObjectIdentifier(loop): context], nodes: directory, metadata: metadata,
                               admin: .init(metadata: metadata, directory: directory, loop: loop), badCopies: badCopies,
                               config: config, metrics: metrics, engine: engine)
        let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loops: [loop], handler: routes.handle)
        let base = "http://127.0.0.1:\(server.localAddress.port)/object/"

        let whole = try await curl([base + "whole", "--max-time", "30"])
        let cut = try await curl([base + "cut", "--max-time", "30"])
        let none = try await curl([base + "none", "--max-time", "30"])
        await server.stop()
        _ = try await loop.run { await context.dataNodes.client.closeIdle() }
        await good.stop()
        await bad.stop()

        #expect(whole.status == 200 && whole.curlExit == 0 && whole.body == Data(Self.chunk + Self.chunk), "\(whole)")
        // 18: "partial file", curl's word for a body shorter than its Content-Length.
        #expect(cut.status == 200 && cut.curlExit == 18, "a failed GET looked complete: \(cut)")
        #expect(cut.headers["content-length"] == "\(2 * Self.chunkSize)" && cut.body == Data(Self.chunk),
                "not the first chunk and then the cut: \(cut.body.count) bytes, \(cut.headers)")
        #expect(none.status == 503 && none.curlExit == 0 && none.text.contains("status 500"), "\(none)")
        #expect(metrics.value("flare_api_bad_replicas_total", ["node": "\(badNode)", "reason": "status"]) == 2)
        // A 500 says nothing of the copy: it is not reported for repair.
        #expect(badCopies.count == 0)
    }
}
