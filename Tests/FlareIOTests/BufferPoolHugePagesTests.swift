import FlareIO
import Testing

@Suite("Buffer pool: huge pages")
struct BufferPoolHugePagesTests {
    @Test("a huge-page pool is 2 MiB aligned, hands out aligned buffers and takes them back")
    func hugePagePool() async throws {
        let loop = try EventLoop.start(engine: .epoll, name: "huge-pool")
        defer { loop.shutdown() }
        try await loop.run {
            let pool = BufferPool(bufferBytes: (4 << 20) + 4096, bufferCount: 3, loop: loop, hugePages: true)
            var buffers: [IOBuffer] = []
            for _ in 0..<3 { buffers.append(try #require(pool.tryAcquire())) }
            #expect(Int(bitPattern: buffers.map(\.base).min()!) % (2 << 20) == 0, "the pool starts on a huge page boundary")
            for buffer in buffers {
                #expect(Int(bitPattern: buffer.base) % BufferPool.alignmentBytes == 0)
                // Written end to end: the memory is really there.
                buffer.base.initializeMemory(as: UInt8.self, repeating: 0xab, count: buffer.capacity)
                #expect(buffer.base.load(fromByteOffset: buffer.capacity - 1, as: UInt8.self) == 0xab)
            }
            #expect(pool.tryAcquire() == nil && pool.inUse == 3)
            buffers.removeAll()
            #expect(pool.inUse == 0)
        }
    }
}
