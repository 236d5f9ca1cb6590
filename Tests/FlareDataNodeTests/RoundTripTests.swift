import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Foundation
import Testing

@Suite("Data node: chunks round-trip byte for byte", .limited(by: dataNodeSlots))
struct RoundTripTests {
    static let sizes = [0, 1, 4095, 4096, 4097, 4 << 20, (4 << 20) + 1, 64 << 20]

    @Test("chunks of 0, 1, 4095, 4096, 4097 B, 4 MiB, 4 MiB+1 and 64 MiB come back identical", arguments: testedEngines)
    func awkwardSizes(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "roundtrip") { node, directory in
            for size in Self.sizes {
                let payload = try Payload.random(size, in: directory.files, name: "put-\(size)")
                defer { payload.remove() }
                let id = ChunkID.random()
                let put = try await node.put(id, payload)
                #expect(put.status == 201, "PUT \(size) B: \(put)")
                #expect(put.json?["length"] as? Int == size && put.json?["crc32c"] as? String == hex8(payload.crc), "\(put)")
                let back = "\(directory.files)/get-\(size)"
                defer { unlink(back) }
                let get = try await node.get(id, bodyTo: back)
                #expect(get.status == 200 && get.curlExit == 0, "GET \(size) B: \(get)")
                #expect(get.headers["content-length"] == "\(size)")
                #expect(get.headers["x-flare-checksum"] == CRC32C.headerValue(payload.crc))
                #expect(try await sameBytes(payload.path, back), "\(size) B chunk differs after the round trip")
                #expect(FileManager.default.fileExists(atPath: "\(directory.data)/chunks/\(id.shard)/\(id)"))
                if size == 64 << 20 { try await checkRanges(node, id, payload.data) }
            }
            #expect(entries("\(directory.data)/tmp").isEmpty)
        }
    }

    /// Ranges of a 64 MiB chunk that start, end or cross 4 MiB segment boundaries.
    private func checkRanges(_ node: DataNode, _ id: ChunkID, _ data: Data) async throws {
        let segment = ChunkFormat.segmentBytes
        let ranges: [(header: String, bytes: Range<Int>)] = [
            ("bytes=\(segment - 1000)-\(segment + 999)", (segment - 1000)..<(segment + 1000)),
            ("bytes=\(segment)-\(2 * segment - 1)", segment..<(2 * segment)),
            ("bytes=\(segment - 1)-\(segment)", (segment - 1)..<(segment + 1)),
            ("bytes=\(3 * segment + 5)-\(9 * segment + 7)", (3 * segment + 5)..<(9 * segment + 8)),
            ("bytes=-1000", (data.count - 1000)..<data.count),
            ("bytes=\(data.count - 4097)-", (data.count - 4097)..<data.count),
        ]
        for (header, bytes) in ranges {
            let result = try await node.get(id, ["-H", "Range: \(header)"])
            #expect(result.status == 206, "\(header): \(result.status)")
            #expect(result.headers["content-range"] == "bytes \(bytes.lowerBound)-\(bytes.upperBound - 1)/\(data.count)", "\(header)")
            #expect(result.body == data[bytes], "\(header): \(result.body.count) bytes, not the right slice")
        }
    }
}
