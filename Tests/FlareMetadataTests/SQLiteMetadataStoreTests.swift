import FlareCore
import FlareMetadata
import FlareTestSupport
import Foundation
import Testing

/// A store on a fresh file in a directory of its own, closed and removed after `body`.
/// A fresh store in a temporary directory. `bucketsRequired` as in production only for the
/// tests of buckets: the others use keys of any shape.
func withStore(graceSeconds: Int = 30, bucketsRequired: Bool = false, _ body: (SQLiteMetadataStore, String) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flare-meta-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = "\(directory)/meta.sqlite"
    let store = try SQLiteMetadataStore(path: path, deletionGraceSeconds: graceSeconds, bucketsRequired: bucketsRequired)
    defer { store.close() }
    try await body(store, path)
}

/// The (chunk, node) copies of a manifest, as the deletion queue holds them.
func copies(_ manifest: ObjectManifest) -> Set<String> {
    Set(manifest.chunks.flatMap { chunk in chunk.replicas.map { "\(chunk.id)@\($0)" } })
}

func copies(_ pending: [PendingDeletion]) -> Set<String> { Set(pending.map { "\($0.chunk)@\($0.node)" }) }

@Suite("SQLiteMetadataStore")
struct SQLiteMetadataStoreTests {
    typealias M = ManifestFixtures

    @Test("commit a new key returns nil; replacing returns the replaced manifest")
    func commitAndReplace() async throws {
        try await withStore { store, _ async throws in
            let first = M.manifest(key: "a/b", size: 3 * 65536 + 5, seed: 1)
            #expect(try await store.commit(first) == nil)
            #expect(try await store.manifest(for: "a/b") == first)
            let second = M.manifest(key: "a/b", size: 10, seed: 2)
            #expect(try await store.commit(second) == first)
            #expect(try await store.manifest(for: "a/b") == second)
            #expect(try await store.manifest(for: "a/c") == nil)
        }
    }

    @Test("with grace 0 the replaced chunks are queued at once, and only those")
    func replacedChunksQueuedWithoutGrace() async throws {
        try await withStore(graceSeconds: 0) { store, _ async throws in
            let old = M.manifest(key: "k", size: 5 * 65536, seed: 10, replicas: ["n1:1", "n2:2"])
            let new = M.manifest(key: "k", size: 2 * 65536, seed: 11)
            _ = try await store.commit(old)
            #expect(try await store.pendingDeletions(limit: 100).isEmpty, "a first commit replaces nothing")
            _ = try await store.commit(new)
            let pending = try await store.pendingDeletions(limit: 100)
            #expect(copies(pending) == copies(old))
            #expect(copies(pending).isDisjoint(with: copies(new)))
            try await store.finishDeletions(pending.map(\.sequence))
            #expect(try await store.pendingDeletions(limit: 100).isEmpty)
        }
    }

    @Test("with grace 3600 the replaced chunks wait; uncommitted uploads' chunks do not")
    func replacedChunksWaitForGrace() async throws {
        try await withStore(graceSeconds: 3600) { store, _ async throws in
            let old = M.manifest(key: "k", size: 3 * 65536, seed: 20)
            _ = try await store.commit(old)
            _ = try await store.commit(M.manifest(key: "k", size: 1, seed: 21))
            _ = try await store.delete(key: "k")
            #expect(try await store.pendingDeletions(limit: 100).isEmpty, "replaced and deleted chunks are kept for the grace period")
            let orphan = ChunkID(high: 7, low: 7)
            try await store.enqueueDeletions([(chunk: orphan, node: "n9:9")])
            let pending = try await store.pendingDeletions(limit: 100)
            #expect(pending.map(\.chunk) == [orphan] && pending.map(\.node) == ["n9:9"])
        }
    }

    @Test("pendingDeletions honours its limit, oldest first")
    func pendingLimit() async throws {
        try await withStore(graceSeconds: 0) { store, _ async throws in
            let ids = (0..<10).map { ChunkID(high: 1, low: UInt64($0)) }
            try await store.enqueueDeletions(ids.map { (chunk: $0, node: "n:1") })
            let first = try await store.pendingDeletions(limit: 4)
            #expect(first.map(\.chunk) == Array(ids.prefix(4)))
            try await store.finishDeletions(first.map(\.sequence))
            #expect(try await store.pendingDeletions(limit: 100).map(\.chunk) == Array(ids.dropFirst(4)))
        }
    }

    @Test("delete returns the manifest once, queues its chunks, and the key is gone")
    func delete() async throws {
        try await withStore(graceSeconds: 0) { store, _ async throws in
            let manifest = M.manifest(key: "gone", size: 2 * 65536 + 1, seed: 30)
            _ = try await store.commit(manifest)
            #expect(try await store.delete(key: "gone") == manifest)
            #expect(try await store.manifest(for: "gone") == nil)
            #expect(try await store.delete(key: "gone") == nil)
            #expect(try await store.delete(key: "never") == nil)
            #expect(copies(try await store.pendingDeletions(limit: 100)) == copies(manifest))
            #expect(try await store.list(prefix: "", startAfter: nil, limit: 10).entries.isEmpty)
        }
    }

    @Test("list: prefix, start-after and limit page through keys in byte order")
    func listPagination() async throws {
        try await withStore { store, _ async throws in
            let keys = ["a", "a/1", "a/2", "a/3", "a/3/x", "a0", "ab", "b/1", "é", "€", "z"]
            for (seed, key) in keys.shuffled().enumerated() {
                _ = try await store.commit(M.manifest(key: key, size: seed + 1, seed: UInt64(seed)))
            }
            let all = try await store.list(prefix: "", startAfter: nil, limit: 1000)
            #expect(all.entries.map(\.key) == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            #expect(all.nextStartAfter == nil)
            for entry in all.entries {
                let manifest = try #require(try await store.manifest(for: entry.key))
                #expect(entry.size == manifest.size && entry.etag == manifest.etag)
            }

            var page = try await store.list(prefix: "a/", startAfter: nil, limit: 2)
            #expect(page.entries.map(\.key) == ["a/1", "a/2"])
            #expect(page.nextStartAfter == "a/2")
            page = try await store.list(prefix: "a/", startAfter: page.nextStartAfter, limit: 2)
            #expect(page.entries.map(\.key) == ["a/3", "a/3/x"])
            // Exactly `limit` keys left: there may or may not be a next page, but it must be empty.
            if let next = page.nextStartAfter {
                #expect(try await store.list(prefix: "a/", startAfter: next, limit: 2).entries.isEmpty)
            }

            #expect(try await store.list(prefix: "a", startAfter: nil, limit: 100).entries.map(\.key)
                    == ["a", "a/1", "a/2", "a/3", "a/3/x", "a0", "ab"])
            #expect(try await store.list(prefix: "a", startAfter: "a/2", limit: 100).entries.map(\.key)
                    == ["a/3", "a/3/x", "a0", "ab"])
            #expect(try await store.list(prefix: "a/", startAfter: "0", limit: 100).entries.count == 4,
                    "a start-after before the prefix starts at the prefix")
            #expect(try await store.list(prefix: "a/", startAfter: "b", limit: 100).entries.isEmpty)
            #expect(try await store.list(prefix: "nothing", startAfter: nil, limit: 100).entries.isEmpty)
            #expect(try await store.list(prefix: "%", startAfter: nil, limit: 100).entries.isEmpty,
                    "the prefix is matched literally, not as a LIKE pattern")
            #expect(try await store.list(prefix: "€", startAfter: nil, limit: 100).entries.map(\.key) == ["€"])

            var collected: [String] = []
            var after: String?
            for _ in 0..<keys.count + 1 {
                let page = try await store.list(prefix: "", startAfter: after, limit: 3)
                collected += page.entries.map(\.key)
                guard let next = page.nextStartAfter else { break }
                after = next
            }
            #expect(collected == all.entries.map(\.key), "paging by 3 sees every key once")
        }
    }

    @Test("reopening the file: manifests and the deletion queue survive")
    func reopen() async throws {
        try await withStore(graceSeconds: 0) { store, path async throws in
            let kept = M.manifest(key: "kept", size: 4 * 65536 + 3, seed: 40)
            let replaced = M.manifest(key: "replaced", size: 65536, seed: 41)
            _ = try await store.commit(kept)
            _ = try await store.commit(replaced)
            _ = try await store.commit(M.manifest(key: "replaced", size: 2, seed: 42))
            // A second owner is refused while the first has the file.
            // (A short wait: the default 2 s would hold one of the test run's few threads.)
            #expect(throws: MetadataInUse.self) { try SQLiteMetadataStore(path: path, deletionGraceSeconds: 0, lockPatienceSeconds: 0.05) }
            store.close()
            let second = try SQLiteMetadataStore(path: path, deletionGraceSeconds: 0)
            defer { second.close() }
            // Written by the first store and read by the next: the commit reached the file.
            #expect(try await second.manifest(for: "kept") == kept)
            #expect(try await second.manifest(for: "replaced")?.size == 2)
            #expect(copies(try await second.pendingDeletions(limit: 100)) == copies(replaced))
        }
        // And after a full close of every store on the file.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flare-meta-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/meta.sqlite"
        let manifest = M.manifest(key: "persisted", size: 7 * 65536, seed: 43)
        do {
            let store = try SQLiteMetadataStore(path: path)
            _ = try await store.commit(manifest)
            store.close()
        }
        let reopened = try SQLiteMetadataStore(path: path)
        defer { reopened.close() }
        #expect(try await reopened.manifest(for: "persisted") == manifest)
        #expect(try await reopened.list(prefix: "", startAfter: nil, limit: 10).entries.map(\.key) == ["persisted"])
    }

    @Test("200 concurrent commits all succeed and are all visible")
    func concurrentCommits() async throws {
        try await withStore(graceSeconds: 0) { store, _ async throws in
            let count = 200
            let manifests = (0..<count).map { M.manifest(key: String(format: "c/%03d", $0), size: 1 + $0 * 1000, seed: UInt64($0)) }
            try await withThrowingTaskGroup(of: ObjectManifest?.self) { group in
                for manifest in manifests { group.addTask { try await store.commit(manifest) } }
                for try await replaced in group { #expect(replaced == nil) }
            }
            let listed = try await store.list(prefix: "c/", startAfter: nil, limit: 1000)
            #expect(listed.entries.map(\.key) == manifests.map(\.key))
            for manifest in manifests { #expect(try await store.manifest(for: manifest.key) == manifest) }
            // Concurrent replacements of one key: each returns a distinct predecessor, so the
            // queue holds every replaced copy exactly once.
            let versions = (0..<50).map { M.manifest(key: "hot", size: 65536 + $0, seed: UInt64(1000 + $0)) }
            let replaced = try await withThrowingTaskGroup(of: ObjectManifest?.self) { group in
                for version in versions { group.addTask { try await store.commit(version) } }
                var replaced: [ObjectManifest] = []
                for try await manifest in group { if let manifest { replaced.append(manifest) } }
                return replaced
            }
            #expect(replaced.count == versions.count - 1)
            let last = try #require(try await store.manifest(for: "hot"))
            #expect(Set(replaced.map(\.size) + [last.size]) == Set(versions.map(\.size)))
            let pending = try await store.pendingDeletions(limit: 1000)
            #expect(pending.count == replaced.reduce(0) { $0 + $1.chunks.count })
            #expect(copies(pending) == replaced.reduce(into: Set<String>()) { $0.formUnion(copies($1)) })
        }
    }

    @Test("reads run on a connection of their own yet see every commit that returned before them")
    func readsAfterCommits() async throws {
        try await withStore(graceSeconds: 3600) { store, _ async throws in
            let stable = M.manifest(key: "stable", size: 12345, seed: 7)
            _ = try await store.commit(stable)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<100 {
                    group.addTask {
                        let key = "rw/\(index)"
                        let first = M.manifest(key: key, size: 1 + index, seed: UInt64(index))
                        _ = try await store.commit(first)
                        #expect(try await store.manifest(for: key) == first, "\(key): the first commit not seen")
                        let second = M.manifest(key: key, size: 100_000 + index, seed: UInt64(10_000 + index))
                        #expect(try await store.commit(second) == first)
                        #expect(try await store.manifest(for: key) == second, "\(key): the replacement not seen")
                        #expect(try await store.delete(key: key) == second)
                        #expect(try await store.manifest(for: key) == nil, "\(key): still there after its delete")
                    }
                    // Reads of a key nobody writes, answered while the writes above queue.
                    group.addTask {
                        let read = try await store.manifest(for: "stable")
                        #expect(read == stable)
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.list(prefix: "rw/", startAfter: nil, limit: 1000).entries.isEmpty)
        }
    }

    @Test("a read that stopped early (a hit, a listing cut at its limit) leaves no old snapshot behind")
    func noStaleSnapshot() async throws {
        try await withStore { store, _ async throws in
            let a = M.manifest(key: "s/a", size: 10, seed: 1), z = M.manifest(key: "t/z", size: 10, seed: 2)
            _ = try await store.commit(a)
            _ = try await store.commit(z)
            #expect(try await store.manifest(for: "s/a") == a)  // a hit: its statement stops on a row
            // Cut by the prefix's end: the listing stops on a row (t/z) too.
            #expect(try await store.list(prefix: "s/", startAfter: nil, limit: 10).entries.map(\.key) == ["s/a"])
            let b = M.manifest(key: "s/b", size: 20, seed: 3)
            _ = try await store.commit(b)
            #expect(try await store.manifest(for: "s/b") == b, "a GET after its PUT's 201 must find the object")
            #expect(try await store.list(prefix: "s/", startAfter: nil, limit: 10).entries.map(\.key) == ["s/a", "s/b"])
            #expect(try await store.delete(key: "s/a") == a)
            #expect(try await store.manifest(for: "s/a") == nil)
        }
    }
}
