import FlareEtcd
import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// EtcdClient against a real 3-member etcd cluster the test starts on loopback (and stops).
@Suite("etcd v3 client over the JSON gateway, against a real cluster", .limited(by: clusterSlots))
struct EtcdClientTests {
    /// Starts a cluster and a client on a loop of `engine`; `nil` when etcd is not installed here.
    static func withEtcd(_ engine: IOEngineKind, timeout: Duration = .seconds(3),
                         _ body: @escaping @Sendable (EtcdCluster, EtcdClient) async throws -> Void) async throws {
        try skipIfUnavailable(engine)
        guard try EtcdCluster.available() else { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flare-etcd-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = try await EtcdCluster(in: directory)
        defer { cluster.stopAll() }
        let loop = try EventLoop.start(engine: engine, name: "etcd-\(engine)")
        defer { loop.shutdown() }
        let endpoints = try EtcdClient.endpoints(parsing: "etcd://" + cluster.endpoints)
        try await loop.run {
            let client = EtcdClient(endpoints: endpoints, loop: loop, timeout: timeout)
            try await body(cluster, client)
            await client.close()
        }
    }

    @Test("put, get, overwrite, delete; a page of a prefix in key order, after a key; binary values", arguments: testedEngines)
    func keyValue(engine: IOEngineKind) async throws {
        try await Self.withEtcd(engine) { _, etcd in
            let first = try await etcd.put("flare/a", Array("one".utf8))
            let second = try await etcd.put("flare/a", [0, 255, 10, 13])
            #expect(second > first)
            let got = try #require(try await etcd.get("flare/a"))
            #expect(got.value == [0, 255, 10, 13] && got.modRevision == second && got.createRevision == first && got.version == 2)
            #expect(try await etcd.get("flare/missing") == nil)
            for index in 0..<10 { try await etcd.put("flare/list/\(index)", Array("v\(index)".utf8)) }
            try await etcd.put("flare/lisu", [1])  // after the prefix "flare/list/" in key order: not in it
            var seen: [String] = []
            var after: String?
            var pages = 0
            while true {
                let page = try await etcd.list(prefix: "flare/list/", after: after, limit: 3)
                seen += page.keys.map(\.key)
                pages += 1
                guard page.more, let last = page.keys.last?.key else { break }
                after = last
            }
            #expect(seen == (0..<10).map { "flare/list/\($0)" } && pages == 4, "\(seen) in \(pages) pages")
            #expect(try await etcd.delete("flare/a"))
            #expect(try await !etcd.delete("flare/a"))
            #expect(try await etcd.get("flare/a") == nil)
        }
    }

    @Test("transactions compare a key's last change: create-if-absent once, update only from the revision read", arguments: testedEngines)
    func compareAndSet(engine: IOEngineKind) async throws {
        try await Self.withEtcd(engine) { _, etcd in
            let created = try await etcd.transaction([.modRevision("flare/head", equals: 0)], success: [.put("flare/head", [1])])
            #expect(created.succeeded)
            #expect(try await !etcd.transaction([.modRevision("flare/head", equals: 0)], success: [.put("flare/head", [2])]).succeeded)
            let read = try #require(try await etcd.get("flare/head"))
            let updated = try await etcd.transaction([.modRevision("flare/head", equals: read.modRevision)],
                                                     success: [.put("flare/head", [3]), .put("flare/queue/x", [9])])
            #expect(updated.succeeded)
            let stale = try await etcd.transaction([.modRevision("flare/head", equals: read.modRevision)],
                                                   success: [.put("flare/head", [4])], failure: [.put("flare/lost", [1])])
            #expect(!stale.succeeded)
            #expect(try await etcd.get("flare/head")?.value == [3])
            #expect(try await etcd.get("flare/queue/x")?.value == [9])
            #expect(try await etcd.get("flare/lost")?.value == [1], "the failure branch ran")
        }
    }

    @Test("a key on a lease goes with it: revoked at once, or expired after its TTL", arguments: testedEngines)
    func leases(engine: IOEngineKind) async throws {
        try await Self.withEtcd(engine) { _, etcd in
            let lease = try await etcd.grantLease(ttlSeconds: 60)
            try await etcd.put("flare/leader", Array("api-1".utf8), lease: lease)
            #expect(try await etcd.get("flare/leader")?.lease == lease)
            #expect(try await (etcd.leaseTimeToLive(lease) ?? 0) > 50)
            try await etcd.revokeLease(lease)
            #expect(try await etcd.get("flare/leader") == nil)
            #expect(try await etcd.leaseTimeToLive(lease) == nil)
            let short = try await etcd.grantLease(ttlSeconds: 2)
            try await etcd.put("flare/short", [1], lease: short)
            var gone = false
            for _ in 0..<50 where !gone {
                try await Task.sleep(for: .milliseconds(200))
                gone = try await etcd.get("flare/short") == nil
            }
            #expect(gone, "a key on an expired 2 s lease is still there after 10 s")
        }
    }

    @Test("kill -9 of a follower, then of the leader: calls go on through the other members; every acknowledged put is there", arguments: testedEngines)
    func failover(engine: IOEngineKind) async throws {
        try await Self.withEtcd(engine) { cluster, etcd in
            var acknowledged: [String: [UInt8]] = [:]
            func write(_ count: Int, _ tag: String) async throws {
                for index in 0..<count {
                    let key = "flare/f/\(tag)/\(index)"
                    // During an election a write may fail; it is retried, within a bound.
                    for attempt in 1...50 {
                        do {
                            try await etcd.put(key, Array(key.utf8))
                            acknowledged[key] = Array(key.utf8)
                            break
                        } catch {
                            guard attempt < 50 else { throw error }
                            try await Task.sleep(for: .milliseconds(200))
                        }
                    }
                }
            }
            try await write(20, "before")
            let leader = try #require(try await cluster.leader())
            let follower = (leader + 1) % cluster.members.count
            await cluster.kill(follower)
            try await write(20, "follower-down")
            await cluster.kill(leader)
            // Two of three down: no quorum. Bring the follower back, then the rest must work again.
            try await cluster.restart(follower)
            try await write(20, "leader-down")
            for (key, value) in acknowledged {
                #expect(try await etcd.get(key)?.value == value, "acknowledged \(key) lost")
            }
        }
    }

    @Test("every member stopped: calls fail as unavailable within the timeout; started again: the same client works", arguments: testedEngines)
    func allDown(engine: IOEngineKind) async throws {
        try await Self.withEtcd(engine, timeout: .seconds(2)) { cluster, etcd in
            try await etcd.put("flare/before", [1])
            for index in cluster.members.indices { await cluster.kill(index) }
            do {
                _ = try await etcd.get("flare/before")
                Issue.record("a get answered with every member down")
            } catch {
                guard case EtcdError.unavailable = error else { Issue.record("not unavailable: \(error)"); return }
            }
            try await cluster.restartStopped()
            var value: [UInt8]?
            for _ in 0..<50 where value == nil {
                value = (try? await etcd.get("flare/before"))??.value
                if value == nil { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(value == [1])
        }
    }
}
