import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

@Suite("Data node: corrupt chunks are refused, never served")
struct CorruptionTests {
    @Test("a flipped data or footer byte turns GET into 500 'corrupt' and is counted", arguments: testedEngines)
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
            expectError(try await node.get(dataID, ["-H", "Range: bytes=0-9"]), 500, "a range of a corrupt segment")

            let (footerID, _, footerFile) = try await stored(100_000)
            try flipByte(footerFile, at: fileSize(footerFile) - 100)
            let footerGet = try await node.get(footerID)
            expectError(footerGet, 500, "GET after a footer byte flipped")
            #expect((footerGet.json?["message"] as? String)?.contains("corrupt") == true, "\(footerGet)")
            #expect(try await curl(["-I", node.url(footerID)]).status == 500, "HEAD checks the footer too")

            let corrupt = try await node.metric("flare_datanode_corrupt_chunks_total") ?? 0
            #expect(corrupt >= 2, "flare_datanode_corrupt_chunks_total is \(corrupt)")
            let listing = try await node.get(path: "/chunks").text
            #expect(listing.contains("\(footerID) corrupt"), "GET /chunks: \(listing)")
        }
    }

    @Test("a flipped byte in a later segment ends the response short; other segments still read", arguments: testedEngines)
    func laterSegment(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "corrupt-seg") { node, directory in
            let size = 6 << 20
            let payload = try Payload.random(size, in: directory.files)
            let id = ChunkID.random()
            #expect(try await node.put(id, payload).status == 201)
            try flipByte("\(directory.data)/chunks/\(id.shard)/\(id)", at: (5 << 20) + 17)
            // The head went out with the first, sound, segment: the node can only cut the body.
            let whole = try await node.get(id)
            #expect(whole.curlExit != 0 && whole.body.count < size, "full GET: \(whole.status), exit \(whole.curlExit), \(whole.body.count) B")
            #expect(whole.body.count <= ChunkFormat.segmentBytes, "bytes of the corrupt segment were sent")
            let first = try await node.get(id, ["-H", "Range: bytes=0-999"])
            #expect(first.status == 206 && first.body == payload.data[0..<1000])
            let bad = try await node.get(id, ["-H", "Range: bytes=\(5 << 20)-"])
            expectError(bad, 500, "range inside the corrupt segment")
            #expect(try await node.get(path: "/health").status == 200)
        }
    }
}
