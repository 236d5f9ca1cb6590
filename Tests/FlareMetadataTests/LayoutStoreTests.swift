import FlareCore
@testable import FlareMetadata
import FlareTestSupport
import Testing

/// The cluster layout as the store keeps it: membership, weight and a version every change
/// raises, kept across a reopen.
@Suite("Cluster layout in the metadata store")
struct LayoutStoreTests {
    typealias M = ManifestFixtures
    static let a = String(repeating: "a", count: 32), b = String(repeating: "b", count: 32)

    @Test("a new node joins active and raises the version; seeing it again changes neither its membership nor the version")
    func recording() async throws {
        try await withStore { store, path async throws in
            #expect(try await store.layoutVersion() == 0)
            try await store.recordNode(KnownNode(id: Self.a, address: "h:1", zone: "z", capacityBytes: 3 << 30, seenNanoseconds: 1))
            #expect(try await store.layoutVersion() == 1)
            _ = try await store.setMembership(.draining, of: Self.a)
            try await store.recordNode(KnownNode(id: Self.a, address: "h:2", zone: "z", capacityBytes: 3 << 30, seenNanoseconds: 2))
            #expect(try await store.layoutVersion() == 2)
            store.close()
            let reopened = try SQLiteMetadataStore(path: path)
            defer { reopened.close() }
            let nodes = try await reopened.knownNodes()
            #expect(nodes.count == 1 && nodes[0].membership == .draining && nodes[0].address == "h:2" && nodes[0].placementWeight == 3)
            #expect(try await reopened.layoutVersion() == 2)
        }
    }

    @Test("weights: the operator's, or the capacity in GiB; an unknown id is refused")
    func weights() async throws {
        try await withStore { store, _ async throws in
            try await store.recordNode(KnownNode(id: Self.a, address: "h:1", zone: "z", capacityBytes: 1 << 20, seenNanoseconds: 1))
            #expect(try await store.knownNodes()[0].placementWeight == 1, "under 1 GiB still weighs 1")
            #expect(try await store.setWeight(7, of: Self.a).placementWeight == 7)
            #expect(try await store.setWeight(nil, of: Self.a).weight == nil)
            #expect(try await store.layoutVersion() == 3)
            await #expect(throws: LayoutError.self) { _ = try await store.setWeight(2, of: Self.b) }
            await #expect(throws: LayoutError.self) { _ = try await store.setMembership(.removed, of: Self.b) }
            #expect(try await store.layoutVersion() == 3, "a refused change raised the version")
        }
    }

    @Test("copies are counted by node; removing a node drops the deletions queued for it, and no other")
    func copiesAndRemoval() async throws {
        try await withStore(graceSeconds: 0) { store, _ async throws in
            for id in [Self.a, Self.b] {
                try await store.recordNode(KnownNode(id: id, address: id, zone: "z", capacityBytes: 1 << 30, seenNanoseconds: 1))
            }
            let first = M.manifest(key: "one", size: 3 * 65536, seed: 1, replicas: [Self.a, Self.b])
            let second = M.manifest(key: "two", size: 65536, seed: 2, replicas: [Self.b])
            _ = try await store.commit(first)
            _ = try await store.commit(second)
            #expect(try await store.copiesByNode() == [Self.a: 3, Self.b: 4])
            _ = try await store.delete(key: "one")
            #expect(try await store.copiesByNode() == [Self.b: 1])
            #expect(try await store.pendingDeletions(limit: 100).count == 6)
            #expect(try await store.setMembership(.removed, of: Self.a).membership == .removed)
            let left = try await store.pendingDeletions(limit: 100)
            #expect(left.count == 3 && left.allSatisfy { $0.node == Self.b })
        }
    }
}
