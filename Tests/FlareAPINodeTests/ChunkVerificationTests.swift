@testable import FlareAPINode
import FlareCluster
import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata
import FlareMetrics
import Logging
import FlareTestSupport
import Foundation
import Testing

/// A data node that answers every chunk GET with 200 and `body`, whatever the chunk: a node
/// with a bad disk controller, or bytes flipped on the way.
func withLyingDataNode(_ engine: IOEngineKind, body: [UInt8], _ test: (SocketAddress, EventLoop) async throws -> Void) async throws {
    try skipIfUnavailable(engine)
    let loop = try EventLoop.start(engine: engine, name: "liar-\(engine)")
    defer { loop.shutdown() }
    let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loops: [loop]) { _, response in
        let pinned = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, body.count), alignment: 4096)
        defer { pinned.deallocate() }
        pinned.copyBytes(from: body)
        try await response.writeHead(status: 200, headers: ["Content-Type": "application/octet-stream"], contentLength: body.count)
        try await response.writeBody(UnsafeRawBufferPointer(rebasing: pinned[0..<body.count]))
    }
    try await test(server.localAddress, loop)
    await server.stop()
}

extension NodeDirectory {
    /// A directory of test nodes, each named (as its id) by its `host:port`.
    static func of(_ nodes: [String: SocketAddress]) -> NodeDirectory {
        let directory = NodeDirectory(policy: NodeHealthPolicy())
        for (name, address) in nodes {
            directory.upsert(Node(id: name, address: name, socketAddress: address, zone: "default", capacityBytes: 1 << 30))
        }
        return directory
    }
}

@Suite("API node: every chunk a data node sends is checked against the manifest")
struct ChunkVerificationTests {
    @Test("a 200 with wrong bytes is refused and counted; the right bytes pass", arguments: testedEngines)
    func wrongBytes(engine: IOEngineKind) async throws {
        let good = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let crc = good.withUnsafeBytes { CRC32C.checksum($0) }
        var flipped = good
        flipped[299_999] ^= 0x01
        for (body, shouldPass) in [(flipped, false), (good, true)] {
            try await withLyingDataNode(engine, body: body) { address, loop in
                try await loop.run {
                    let metrics = NodeMetrics()
                    let node = "127.0.0.1:\(address.port)"
                    let client = DataNodeClient(loop: loop, directory: .of([node: address]), metrics: metrics, timeout: .seconds(5))
                    let pool = BufferPool(bufferBytes: 1 << 20, bufferCount: 1, loop: loop)
                    let buffer = try await pool.acquire()
                    let chunk = ChunkRecord(index: 0, id: ChunkID.random(), length: good.count, crc32c: crc, replicas: [node])
                    do {
                        try await client.fetch(chunk, into: buffer, metrics: metrics) { _ in }
                        #expect(shouldPass, "wrong bytes were accepted")
                        #expect(Array(buffer.bytes) == good)
                    } catch {
                        #expect(!shouldPass, "the right bytes were refused: \(error)")
                        #expect("\(error)".contains("checksum mismatch"), "\(error)")
                        #expect(metrics.value("flare_api_corrupt_chunks_total", ["node": "\(node)"]) == 1)
                    }
                }
            }
        }
    }
}

extension AdminRoutes {
    /// Admin routes over `directory` alone (no configured nodes, nothing known), for tests
    /// of the object routes.
    init(metadata: MetadataStore, directory: NodeDirectory, loop: EventLoop) {
        let layout = ClusterLayout(metadata: metadata, directory: directory, configured: [], known: [])
        self.init(layout: layout, prober: NodeProber(loop: loop, layout: layout, logger: Logger(label: "test")),
                  progress: RepairProgress(bandwidthBytesPerSecond: 0), replicas: 1, configured: [])
    }
}
