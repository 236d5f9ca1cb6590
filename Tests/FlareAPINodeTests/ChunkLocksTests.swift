@testable import FlareAPINode
import FlareCore
import FlareIO
import Testing

@Suite("ChunkLocks: one holder per chunk between the repair and the deletion worker")
struct ChunkLocksTests {
    @Test("holders of one chunk run one after another, in arrival order; other chunks do not wait")
    func serializes() async throws {
        let loop = try EventLoop.start(engine: .epoll, name: "locks-test")
        defer { loop.shutdown() }
        let order = Shared<[String]>([])
        try await loop.run {
            let locks = ChunkLocks(loop: loop)
            let a = ChunkID.random(), b = ChunkID.random()
            await withTaskGroup(of: Void.self) { group in
                for name in ["a1", "a2", "a3"] {
                    group.addTask {
                        await locks.withLock(a) {
                            order.withLock { $0.append("\(name) in") }
                            for _ in 0..<5 { await Task.yield() }
                            order.withLock { $0.append("\(name) out") }
                        }
                    }
                }
                group.addTask {
                    await locks.withLock(b) { order.withLock { $0.append("b") } }
                }
            }
            #expect(locks.heldCount == 0)
        }
        let events = order.withLock { $0 }.filter { $0 != "b" }
        #expect(events == ["a1 in", "a1 out", "a2 in", "a2 out", "a3 in", "a3 out"])
        // b never waited on a's holders: it ran before a1 left.
        let all = order.withLock { $0 }
        #expect(all.firstIndex(of: "b")! < all.firstIndex(of: "a3 out")!)
    }
}
