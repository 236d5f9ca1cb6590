import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Stores `data` under `id`, feeding the store from memory as a request body would.
func store(_ data: Data, as id: ChunkID, in store: ChunkStore) async throws(ChunkStoreError) -> ChunkFooter {
    let crc = data.withUnsafeBytes { CRC32C.checksum($0) }
    var offset = 0
    return try await store.put(id: id, length: data.count, expectedCRC: crc) { buffer in
        let count = min(buffer.count, data.count - offset)
        data.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<(offset + count)]))
        }
        offset += count
        return count
    }
}

/// Reads a whole chunk back into memory.
func load(_ id: ChunkID, from store: ChunkStore) async throws(ChunkStoreError) -> Data {
    let reader = try await store.open(id)
    var data = Data()
    do {
        try await reader.stream(0..<reader.footer.length, start: {}, send: { data.append(contentsOf: $0) })
    } catch {
        await reader.close()
        throw error
    }
    await reader.close()
    return data
}

/// A fault the engine reports for one kind of operation, the way a full disk would.
struct DiskFault: Sendable, CustomStringConvertible {
    let description: String
    let sizes: [Int]
    let inject: @Sendable (IOOperation) -> Int32?
}

let diskFaults: [DiskFault] = [
    DiskFault(description: "every write fails with ENOSPC", sizes: [1000, (5 << 20) + 1]) { op in
        if case .write = op { return -ENOSPC }
        return nil
    },
    DiskFault(description: "the last write comes back short, then ENOSPC", sizes: [10_000]) { op in
        guard case .write(_, _, let count, let offset) = op else { return nil }
        return offset == 0 ? Int32(count / 2) : -ENOSPC
    },
    DiskFault(description: "creating the temporary file fails with ENOSPC", sizes: [1000]) { op in
        if case .openat(_, _, let flags, _) = op, flags & O_CREAT != 0 { return -ENOSPC }
        return nil
    },
]

/// Faults on the operations linked after the write in the commit chain.
let chainFaults: [DiskFault] = [
    DiskFault(description: "fdatasync fails with ENOSPC", sizes: [1000, (4 << 20) + 1]) { op in
        if case .fsync(_, true) = op { return -ENOSPC }
        return nil
    },
    DiskFault(description: "the rename into chunks/ fails with EDQUOT", sizes: [1000]) { op in
        if case .renameat = op { return -EDQUOT }
        return nil
    },
    DiskFault(description: "the directory fsync after the rename fails with ENOSPC", sizes: [1000]) { op in
        if case .fsync(_, false) = op { return -ENOSPC }
        return nil
    },
]

@Suite("Data node: a full disk answers 507 and leaves nothing behind", .limited(by: dataNodeSlots))
struct NoSpaceTests {
    @Test("injected ENOSPC on write or open: ChunkStore throws noSpace (507), no chunk, tmp/ empty, the store keeps working",
          arguments: testedEngines, diskFaults)
    func injected(engine: IOEngineKind, fault: DiskFault) async throws {
        try await Self.check(fault, on: engine)
    }

    @Test("injected ENOSPC/EDQUOT on fdatasync, rename or directory fsync in the commit chain: noSpace (507), no chunk",
          arguments: testedEngines, chainFaults)
    func injectedInChain(engine: IOEngineKind, fault: DiskFault) async throws {
        try await Self.check(fault, on: engine)
    }

    /// Puts chunks of `fault.sizes` with the fault injected, expects ``ChunkStoreError/noSpace(_:)``
    /// and nothing left behind, then puts the same chunk again without the fault.
    static func check(_ fault: DiskFault, on engine: IOEngineKind) async throws {
        try await withChunkStore(engine, "nospace") { chunks, stats, loop, data in
            for size in fault.sizes {
                let bytes = randomBytes(size)
                let id = ChunkID.random()
                loop.faultInjector = fault.inject
                do throws(ChunkStoreError) {
                    _ = try await store(bytes, as: id, in: chunks)
                    Issue.record("\(fault), \(size) B: the put succeeded")
                } catch {
                    if case .noSpace = error {
                        #expect(error.status == 507)
                    } else {
                        Issue.record("\(fault), \(size) B: expected noSpace (507), got \(error.status): \(error)")
                    }
                }
                loop.faultInjector = nil
                #expect(await !chunks.exists(id), "\(fault), \(size) B: a chunk file is visible")
                #expect(entries("\(data)/tmp").isEmpty, "\(fault), \(size) B: tmp/ holds \(entries("\(data)/tmp"))")
                #expect(chunks.pool.inUse == 0, "\(fault), \(size) B: a buffer was not given back")
                #expect(stats.metrics.value("flare_datanode_chunks") == 0)
                // The same id, now with room: stored and read back whole.
                _ = try await store(bytes, as: id, in: chunks)
                #expect(try await load(id, from: chunks) == bytes)
                try await chunks.delete(id)
            }
            #expect(stats.metrics.value("flare_datanode_cleanup_failures_total") ?? 0 == 0)
        }
    }

    @Test("a real full filesystem (2 MiB tmpfs): 507, then the node still serves",
          .enabled(if: Tmpfs.unavailableReason == nil || Tmpfs.isRequired,
                   Comment(rawValue: "no tmpfs of its own here: \(Tmpfs.unavailableReason ?? "")")),
          arguments: testedEngines)
    func tmpfs(engine: IOEngineKind) async throws {
        let directory = try TestDirectory("tmpfs-\(engine)")
        defer { directory.remove() }
        let node = try DataNode(engine: engine, directory: directory)  // before the mount: a throw here (or a skip) leaves no tmpfs behind
        if let failure = Tmpfs.mount(at: directory.data, sizeBytes: 2 << 20) { Issue.record(Comment(rawValue: failure)); return }
        do {
            try await fillUp(node, directory)
        } catch {
            await node.stop()
            Tmpfs.unmount(directory.data)
            throw error
        }
        await node.stop()
        Tmpfs.unmount(directory.data)
    }

    /// PUTs 300 KB chunks until one is refused with 507, then checks the node still serves.
    private func fillUp(_ node: DataNode, _ directory: TestDirectory) async throws {
        try await node.start()
        var stored: [(ChunkID, Payload)] = []
        var refused = false
        for _ in 0..<16 {
            let payload = try Payload.random(300_000, in: directory.files)
            let id = ChunkID.random()
            let result = try await node.put(id, payload)
            if result.status == 201 {
                stored.append((id, payload))
                continue
            }
            expectError(result, 507, "PUT on a full filesystem")
            #expect(try await node.get(id).status == 404)
            refused = true
            break
        }
        #expect(refused, "16 chunks of 300 KB fitted in a 2 MiB tmpfs")
        #expect(!stored.isEmpty)
        #expect(entries("\(directory.data)/tmp").isEmpty, "tmp/ after 507: \(entries("\(directory.data)/tmp"))")
        #expect(try await node.get(path: "/health").status == 200)
        for (id, payload) in stored {
            #expect(try await node.get(id).body == payload.data, "\(id) after the disk filled up")
        }
        // Room again after a delete: the node recovers without a restart.
        if let (id, payload) = stored.first {
            #expect(try await node.delete(id).status == 204)
            #expect(try await node.put(ChunkID.random(), payload).status == 201)
        }
        if !refused || stored.isEmpty { print(node.currentLog().suffix(3000)) }
    }
}

/// A tmpfs of a test's own, mounted with mount(2): that needs CAP_SYS_ADMIN (root on the host
/// or in a privileged container), so where it is refused the test that needs one is skipped
/// with the reason, except in CI, which sets `FLARE_REQUIRE_PRIVILEGED_TESTS=1` so that the
/// skip cannot hide there.
enum Tmpfs {
    /// Why no tmpfs can be mounted here, found once by mounting and unmounting a small one;
    /// nil when it can.
    static let unavailableReason: String? = {
        var template = Array("/tmp/flare-tmpfs-probe-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            return "mkdtemp: \(String(cString: strerror(errno)))"
        }
        let path = String(cString: made)
        defer { rmdir(path) }
        if let failure = mount(at: path, sizeBytes: 1 << 20) { return failure }
        guard umount2(path, 0) == 0 else { return "umount \(path): \(String(cString: strerror(errno)))" }
        return nil
    }()

    /// Whether a missing tmpfs is a failure rather than a skip (CI).
    static let isRequired = ProcessInfo.processInfo.environment["FLARE_REQUIRE_PRIVILEGED_TESTS"] == "1"

    /// Mounts a tmpfs of `sizeBytes` on `path`; returns why it could not, or nil.
    static func mount(at path: String, sizeBytes: Int) -> String? {
        guard Glibc.mount("tmpfs", path, "tmpfs", 0, "size=\(sizeBytes)") == 0 else {
            return "mount -t tmpfs -o size=\(sizeBytes) on \(path): \(String(cString: strerror(errno)))"
        }
        return nil
    }

    /// Unmounts `path`, recording an issue when that fails (a tmpfs left behind holds memory).
    static func unmount(_ path: String) {
        if umount2(path, 0) != 0 { Issue.record("umount \(path): \(String(cString: strerror(errno)))") }
    }
}
