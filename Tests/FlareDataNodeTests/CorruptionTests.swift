import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

@Suite("Data node: corrupt chunks are refused, never served", .limited(by: dataNodeSlots))
struct CorruptionTests {
    @Test("a flipped data or footer byte turns the first GET or HEAD into 500 'corrupt', counted; the chunk is quarantined, 404 from then on",
          arguments: testedEngines)
    func flippedBytes(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "corrupt") { node, directory in
            func stored(_ size: Int) async throws -> (ChunkID, Payload, String) {
                let payload = try Payload.random(size, in: directory.files)
                let id = ChunkID.random()
                #expect(try await node.put(id, payload).status == 201)
                return (id, payload, "\(directory.data)/chunks/\(id.shard)/\(id)")
            }
            let (dataID, dataPayload, dataFile) = try await stored(100_000)
            try flipByte(dataFile, at: 100)
            let dataGet = try await node.get(dataID)
            expectError(dataGet, 500, "GET after a data byte flipped")
            #expect((dataGet.json?["message"] as? String)?.contains("corrupt") == true, "\(dataGet)")
            #expect(dataGet.body != dataPayload.data && dataGet.body.count < 1000, "the corrupt bytes were sent")
            expectError(try await node.get(dataID, ["-H", "Range: bytes=0-9"]), 404, "a range of a quarantined chunk")
            #expect(!FileManager.default.fileExists(atPath: dataFile) && FileManager.default.fileExists(atPath: "\(directory.data)/quarantine/\(dataID)"))

            let (footerID, _, footerFile) = try await stored(100_000)
            try flipByte(footerFile, at: fileSize(footerFile) - 100)
            let footerGet = try await node.get(footerID)
            expectError(footerGet, 500, "GET after a footer byte flipped")
            #expect((footerGet.json?["message"] as? String)?.contains("corrupt") == true, "\(footerGet)")
            #expect(try await node.head(footerID).status == 404, "HEAD of a quarantined chunk")

            let (headID, _, headFile) = try await stored(100_000)
            try flipByte(headFile, at: fileSize(headFile) - 100)
            #expect(try await node.head(headID).status == 500, "HEAD checks the footer too")
            expectError(try await node.get(headID), 404, "GET after a HEAD found the footer corrupt")

            let corrupt = try await node.metric("flare_datanode_corrupt_chunks_total") ?? 0
            #expect(corrupt == 3, "flare_datanode_corrupt_chunks_total is \(corrupt)")
            #expect(try await node.metric("flare_datanode_quarantined_chunks") == 3)
            let listing = try await node.get(path: "/chunks").text
            #expect(listing.isEmpty, "GET /chunks lists quarantined chunks: \(listing)")
            let listed = try await node.get(path: "/chunks/corrupt")
            let ids = (listed.json?["chunks"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            #expect(ids == [dataID, footerID, headID].sorted().map(\.description), "GET /chunks/corrupt: \(listed.text)")
        }
    }

    @Test("GET /chunks finds a corrupt footer, quarantines the chunk and lists only the good ones", arguments: testedEngines)
    func listingQuarantines(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "corrupt-list") { node, directory in
            let good = ChunkID.random()
            #expect(try await node.put(good, try Payload.random(5000, in: directory.files)).status == 201)
            let bad = ChunkID.random()
            #expect(try await node.put(bad, try Payload.random(5000, in: directory.files)).status == 201)
            let badFile = "\(directory.data)/chunks/\(bad.shard)/\(bad)"
            try flipByte(badFile, at: fileSize(badFile) - 1)
            let listing = try await node.get(path: "/chunks").text
            #expect(listing == "\(good) 5000\n", "GET /chunks: \(listing)")
            let listed = try await node.get(path: "/chunks/corrupt")
            #expect((listed.json?["chunks"] as? [[String: Any]])?.first?["reason"] as? String == "footer checksum mismatch", "\(listed.text)")
            expectError(try await node.get(bad), 404, "GET of a chunk the listing quarantined")
        }
    }

    @Test("a flipped byte in a later segment ends the response short; the chunk is quarantined", arguments: testedEngines)
    func laterSegment(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "corrupt-seg") { node, directory in
            let size = 6 << 20
            let payload = try Payload.random(size, in: directory.files)
            let id = ChunkID.random()
            #expect(try await node.put(id, payload).status == 201)
            let first = try await node.get(id, ["-H", "Range: bytes=0-999"])
            #expect(first.status == 206 && first.body == payload.data[0..<1000], "a range in the sound segment, before the other is read")
            try flipByte("\(directory.data)/chunks/\(id.shard)/\(id)", at: (5 << 20) + 17)
            // The head went out with the first, sound, segment: the node can only cut the body.
            let whole = try await node.get(id)
            #expect(whole.curlExit != 0 && whole.body.count < size, "full GET: \(whole.status), exit \(whole.curlExit), \(whole.body.count) B")
            #expect(whole.body.count <= ChunkFormat.segmentBytes, "bytes of the corrupt segment were sent")
            expectError(try await node.get(id, ["-H", "Range: bytes=0-999"]), 404, "any range once quarantined")
            let listed = try await node.get(path: "/chunks/corrupt")
            #expect((listed.json?["chunks"] as? [[String: Any]])?.first?["reason"] as? String == "segment 1 checksum mismatch", "\(listed.text)")
            #expect(try await node.get(path: "/health").status == 200)
        }
    }
}
