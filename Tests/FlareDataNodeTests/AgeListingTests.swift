import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// Sets a committed chunk file's modification time `seconds` back, as if written then.
func age(_ path: String, bySeconds seconds: Double) throws {
    try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -seconds)], ofItemAtPath: path)
}

@Suite("Listing chunks by age, for the api's garbage collection", .limited(by: dataNodeSlots))
struct AgeListingTests {
    @Test("ids(olderThanSeconds:) keeps the chunks whose file was written at least that long ago, sorted", arguments: testedEngines)
    func storeByAge(engine: IOEngineKind) async throws {
        try await withChunkStore(engine, "age") { chunks, _, _, _ in
            let ids = (0..<6).map { _ in ChunkID.random() }
            for id in ids { _ = try await store(randomBytes(3000), as: id, in: chunks) }
            let old = Array(ids.prefix(3))
            for id in old { try age(chunks.path(of: id), bySeconds: 7200) }
            #expect(try await chunks.ids(olderThanSeconds: 3600) == old.sorted())
            #expect(try await chunks.ids(olderThanSeconds: 0) == ids.sorted())
            #expect(try await chunks.ids(olderThanSeconds: 86400) == [])
        }
    }

    @Test("GET /chunks?older-than=SECONDS answers one id per line; any other query is a 400", arguments: testedEngines)
    func route(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "age-route") { node, directory in
            let young = ChunkID.random(), old = ChunkID.random()
            for id in [young, old] {
                let payload = try Payload.random(5000, in: directory.path)
                #expect(try await node.put(id, payload).status == 201)
            }
            try age("\(node.dataDirectory)/chunks/\(old.shard)/\(old)", bySeconds: 7200)
            let aged = try await node.get(path: "/chunks?older-than=3600")
            #expect(aged.status == 200 && aged.text == "\(old)\n", "\(aged)")
            let all = try await node.get(path: "/chunks?older-than=0")
            #expect(all.status == 200 && Set(all.text.split(separator: "\n").map(String.init)) == ["\(young)", "\(old)"], "\(all)")
            #expect(try await node.get(path: "/chunks").text.contains("\(young) 5000\n"), "the plain listing is unchanged")
            for query in ["older-than=-1", "older-than=soon", "older-than", "older-than=60&limit=5", "limit=5", "older-than=999999999999"] {
                let refused = try await node.get(path: "/chunks?\(query)")
                #expect(refused.status == 400, "?\(query): \(refused)")
            }
        }
    }

    @Test("what destroys data names the node it is meant for: another node refuses it (409) and deletes nothing", arguments: testedEngines)
    func wrongNodeRefused(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "wrong-node") { node, directory in
            let id = ChunkID.random()
            #expect(try await node.put(id, try Payload.random(5000, in: directory.path)).status == 201)
            let own = try await node.get(path: "/health").json?["id"] as? String ?? ""
            let other = String(repeating: "e", count: 32)
            let listing = try await node.request("GET", node.base + "/chunks?older-than=0", ["-H", "X-Flare-Node-Id: \(other)"])
            #expect(listing.status == 409 && listing.text.contains("not \(other)"), "\(listing)")
            let wrong = try await node.delete(id, ["-H", "X-Flare-Node-Id: \(other)"])
            #expect(wrong.status == 409, "\(wrong)")
            #expect(try await node.get(id).status == 200, "a DELETE meant for another node deleted the chunk")
            let right = try await node.delete(id, ["-H", "X-Flare-Node-Id: \(own)"])
            #expect(right.status == 204, "\(right)")
        }
    }
}
