@testable import FlareAPINode
import FlareCluster
import FlareIO
import Synchronization
import Testing

/// Exchanges in flight with a node are abandoned when it stops being up — once, and only
/// those registered while it was up and not yet ended.
@Suite("NodeDirectory: abandoning exchanges with a node that stops being up")
struct NodeDirectoryWatchTests {
    static func directory() throws -> NodeDirectory {
        let address = try SocketAddress(host: "127.0.0.1", port: 9)
        return NodeDirectory.of(["a": address, "b": address])
    }

    static let failure = NodeFailure(.timeout, "probe timed out")

    @Test("up → suspect runs every watch of that node once; other nodes' and ended watches do not run")
    func firesOnce() throws {
        let directory = try Self.directory()
        let fired = Shared<[String]>([])
        _ = directory.watchUnavailable("a") { fired.withLock { $0.append("a1") } }
        _ = directory.watchUnavailable("a") { fired.withLock { $0.append("a2") } }
        let ended = directory.watchUnavailable("a") { fired.withLock { $0.append("ended") } }
        _ = directory.watchUnavailable("b") { fired.withLock { $0.append("b") } }
        directory.endWatch(ended)
        let transition = directory.record(.probeFailed(Self.failure), node: "a")
        #expect(transition?.from == .up && transition?.to == .suspect)
        #expect(fired.withLock { $0.sorted() } == ["a1", "a2"])
        // Failing again (suspect → down, or more failures) runs nothing more.
        _ = directory.record(.dataPathFailed(Self.failure), node: "a")
        #expect(fired.withLock { $0.count } == 2)
    }

    @Test("a node already suspect is not watched: it is being tried as a last resort")
    func notWatchedWhenNotUp() throws {
        let directory = try Self.directory()
        _ = directory.record(.probeFailed(Self.failure), node: "a")
        let fired = Shared(false)
        let watch = directory.watchUnavailable("a") { fired.withLock { $0 = true } }
        _ = directory.record(.probeFailed(Self.failure), node: "a")
        _ = directory.record(.probeSucceeded, node: "a")
        _ = directory.record(.probeFailed(Self.failure), node: "a")
        #expect(!fired.withLock { $0 })
        directory.endWatch(watch)
        // Up again, a new watch runs on the next failure.
        _ = directory.record(.probeSucceeded, node: "a")
        _ = directory.watchUnavailable("a") { fired.withLock { $0 = true } }
        _ = directory.record(.dataPathFailed(Self.failure), node: "a")
        #expect(fired.withLock { $0 })
    }

    @Test("an unknown node is not watched")
    func unknownNode() throws {
        let directory = try Self.directory()
        let fired = Shared(false)
        _ = directory.watchUnavailable("zz") { fired.withLock { $0 = true } }
        _ = directory.record(.probeFailed(Self.failure), node: "zz")
        #expect(!fired.withLock { $0 })
    }
}
