import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Foundation
import Testing

@Suite("Data node: one node per data directory", .limited(by: dataNodeSlots))
struct DirectoryLockTests {
    @Test("the lock is exclusive and is released with its holder")
    func exclusive() throws {
        let directory = try TestDirectory("lock")
        defer { directory.remove() }
        let fresh = "\(directory.path)/not-yet-made"
        do {
            let first = try DataDirectoryLock(fresh)
            #expect(FileManager.default.fileExists(atPath: first.path), "the directory and its lock file are created")
            #expect(throws: DataDirectoryInUse.self) { try DataDirectoryLock(fresh, patienceSeconds: 0.05) }
            withExtendedLifetime(first) {}
        }
        _ = try DataDirectoryLock(fresh)
    }

    @Test("a second datanode on the same --data-dir refuses to start; the first keeps serving", arguments: testedEngines)
    func secondNodeRefused(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "lock") { node, directory in
            let second = try DataNode(engine: engine, directory: directory)
            defer { second.kill() }
            await #expect(throws: StartFailure.self) { try await second.start() }
            #expect(second.currentLog().contains("in use by another datanode"), "second node's log: \(second.currentLog().suffix(500))")
            let payload = try Payload.random(4097, in: directory.files)
            let id = ChunkID.random()
            #expect(try await node.put(id, payload).status == 201)
            #expect(try await node.get(id).body == payload.data)
        }
    }
}
