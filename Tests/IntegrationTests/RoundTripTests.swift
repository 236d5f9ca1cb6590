import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// Flare stores exactly the bytes it receives: awkward sizes around the chunk size, every
/// way curl uploads (-T, --data-binary, chunked), compared with cmp.
@Suite("Round trips through a real cluster")
struct RoundTripTests {
    static let smallChunk = 64 << 10
    static let defaultChunk = 4 << 20

    /// PUTs every size with every upload mode, checks the 201 JSON, GETs and compares.
    static func roundTrip(_ cluster: Cluster, sizes: [Int], chunkSize: Int, modes: [Upload] = Upload.allCases) async throws {
        for size in sizes {
            let file = try await cluster.randomFile("in-\(size)", size: size)
            let crc = try fileCRC32C(file)
            // curl sends no body at all, not even the last chunk, for an empty chunked upload.
            for mode in modes where !(mode == .chunked && size == 0) {
                let key = "rt/\(chunkSize)/\(size)-\(String(describing: mode).filter(\.isLetter))"
                let put = try await cluster.put(key, file: file, upload: mode)
                try #require(put.status == 201, "PUT \(size) bytes with \(mode): \(put)")
                let json = try #require(put.json, "201 body is not JSON: \(put)")
                #expect(json["key"] as? String == key)
                #expect(json["size"] as? Int == size, "\(mode) \(size): \(put.text)")
                #expect(json["chunks"] as? Int == (size + chunkSize - 1) / chunkSize, "\(mode) \(size): \(put.text)")
                #expect(json["checksum"] as? String == CRC32C.headerValue(crc), "\(mode) \(size): \(put.text)")
                #expect(put.headers["etag"] != nil)

                let out = "\(cluster.scratch.files)/out-\(size)"
                let get = try await cluster.get(key, to: out)
                #expect(get.status == 200 && get.curlExit == 0, "GET \(size) bytes (\(mode)): \(get)")
                #expect(get.headers["content-length"] == "\(size)")
                #expect(get.headers["x-flare-checksum"] == CRC32C.headerValue(crc))
                #expect(get.headers["etag"] == put.headers["etag"])
                #expect(try await sameBytes(file, out, scratch: cluster.scratch.tmp), "\(size) bytes with \(mode) came back different")
                unlink(out)

                let head = try await cluster.get(key, to: "/dev/null", extra: ["-I"])
                #expect(head.status == 200 && head.headers["content-length"] == "\(size)", "HEAD: \(head)")
            }
            unlink(file)
        }
    }

    @Test("64 KiB chunks: 0, 1, 4095, 4096, chunk−1, chunk, chunk+1, 3×chunk+17 bytes", arguments: testedEngines)
    func smallChunks(engine: IOEngineKind) async throws {
        try await withCluster(engine, "rt64k", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let c = Self.smallChunk
            try await Self.roundTrip(cluster, sizes: [0, 1, 4095, 4096, c - 1, c, c + 1, 3 * c + 17], chunkSize: c)
        }
    }

    @Test("4 MiB chunks (default): 0, 1, chunk−1, chunk, chunk+1, 3×chunk+17 bytes", arguments: testedEngines)
    func defaultChunks(engine: IOEngineKind) async throws {
        try await withCluster(engine, "rt4m") { cluster in
            let c = Self.defaultChunk
            try await Self.roundTrip(cluster, sizes: [0, 1, c - 1, c, c + 1, 3 * c + 17], chunkSize: c)
        }
    }

    @Test("one 300 MiB object streamed with -T", arguments: testedEngines)
    func large(engine: IOEngineKind) async throws {
        try await withCluster(engine, "rt300m") { cluster in
            try await Self.roundTrip(cluster, sizes: [300 << 20], chunkSize: Self.defaultChunk, modes: [.streamed])
        }
    }
}
