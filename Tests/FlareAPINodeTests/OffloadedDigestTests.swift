@testable import FlareAPINode
import FlareIO
import FlareS3
import Testing

@Suite("OffloadedDigest: an upload's digests computed off the loop, in order, each buffer held until hashed")
struct OffloadedDigestTests {
    @Test("chunks added one by one give the digests of the whole; the buffer being hashed stays out of the pool until settled",
          arguments: [IOEngineKind.epoll, .uring])
    func digests(engine: IOEngineKind) async throws {
        let loop = try EventLoop.start(engine: engine, name: "digest-test")
        defer { loop.shutdown() }
        try await loop.run {
            let pool = BufferPool(bufferBytes: 1 << 20, bufferCount: 3, loop: loop)
            let configuration = PayloadHasher.Configuration(sha256: true, checksum: .crc32c)
            var whole = PayloadHasher(configuration)
            let digest = OffloadedDigest(configuration)
            var seed: UInt64 = 0x9e37_79b9_7f4a_7c15
            for size in [1 << 20, 1 << 20, 12345, 0, 1] {
                let buffer = try #require(pool.tryAcquire())
                for index in 0..<size {
                    seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    buffer.space[index] = UInt8(truncatingIfNeeded: seed >> 33)
                }
                buffer.count = size
                whole.update(buffer.bytes)
                await digest.add(buffer)
                // Dropped by the pipeline at once: the digest keeps it until its hash is done.
            }
            #expect(pool.inUse <= 1)
            let digests = await digest.finalize()
            #expect(pool.inUse == 0, "a hashed buffer was not given back")
            #expect(digests == whole.finalize())
        }
    }

    @Test("settle with nothing pending returns at once; a digest of nothing is the digest of no bytes")
    func empty() async throws {
        let loop = try EventLoop.start(engine: .epoll, name: "digest-empty")
        defer { loop.shutdown() }
        try await loop.run {
            let digest = OffloadedDigest(PayloadHasher.Configuration())
            await digest.settle()
            #expect(await digest.finalize().md5Hex == "d41d8cd98f00b204e9800998ecf8427e")
        }
    }
}
