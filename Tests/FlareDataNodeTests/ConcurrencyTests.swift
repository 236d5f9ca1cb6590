import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Testing

@Suite("Data node: many clients at once", .limited(by: dataNodeSlots))
struct ConcurrencyTests {
    static let clients = 64

    @Test("64 concurrent PUTs, then 64 concurrent GETs, every body verified", arguments: testedEngines)
    func concurrentPutsAndGets(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "concurrent") { node, directory in
            // 256 KiB … 1 MiB, none a multiple of 4 KiB, so every chunk has a padded tail.
            let payloads = try (0..<Self.clients).map { index in
                try Payload.random((256 << 10) + index * 12_289, in: directory.files, name: "put-\(index)")
            }
            let ids = payloads.map { _ in ChunkID.random() }
            let puts = try zip(ids, payloads).map { id, payload in
                try CurlCall(signedCurlArguments("PUT", node.url(id), signer: node.signer,
                                                 headers: [("X-Flare-Checksum", CRC32C.headerValue(payload.crc))], upload: payload.path))
            }
            for (index, result) in await puts.asyncMap({ await $0.wait() }).enumerated() {
                #expect(result.status == 201, "PUT \(index): \(result)")
            }
            let gets = try ids.enumerated().map { index, id in
                try CurlCall(signedCurlArguments("GET", node.url(id), signer: node.signer), bodyTo: "\(directory.files)/get-\(index)")
            }
            for (index, result) in await gets.asyncMap({ await $0.wait() }).enumerated() {
                #expect(result.status == 200 && result.curlExit == 0, "GET \(index): \(result)")
                let back = FileManager.default.contents(atPath: "\(directory.files)/get-\(index)")
                #expect(back == payloads[index].data, "GET \(index): body differs (\(back?.count ?? -1) of \(payloads[index].data.count) bytes)")
            }
            let listed = try await node.get(path: "/chunks").text.split(separator: "\n").map { String($0.prefix(32)) }
            #expect(Set(listed) == Set(ids.map(\.description)))
            #expect(entries("\(directory.data)/tmp").isEmpty)
            #expect(try await node.metric("flare_datanode_chunks") == Double(Self.clients))
        }
    }
}
