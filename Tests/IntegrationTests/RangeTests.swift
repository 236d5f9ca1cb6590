import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// `Range` GETs fetch only the chunks they need and cut them at the right bytes.
@Suite("Range requests")
struct RangeTests {
    static let chunk = 65536

    /// (Range header value, the half-open slice it names) for an object of `size` bytes.
    static func cases(size: Int) -> [(header: String, slice: Range<Int>)] {
        [
            ("bytes=65535-65536", 65535..<65537),
            ("bytes=0-0", 0..<1),
            ("bytes=-1", (size - 1)..<size),
            ("bytes=65536-", 65536..<size),
            ("bytes=65000-140000", 65000..<140001),          // chunks 0, 1 and 2
            ("bytes=65536-131071", 65536..<131072),          // exactly chunk 1
            ("bytes=131071-131072", 131071..<131073),
            ("bytes=\(size - 17)-", (size - 17)..<size),     // inside the short last chunk
            ("bytes=100-\(size + 1000)", 100..<size),        // end beyond the length clamps
            ("bytes=-\(size + 5)", 0..<size),                // suffix longer than the object
            ("bytes=0-\(size - 1)", 0..<size),
        ]
    }

    @Test("ranges at 64 KiB chunk boundaries: 206, Content-Range and the right bytes", arguments: testedEngines)
    func ranges(engine: IOEngineKind) async throws {
        try await withCluster(engine, "ranges", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let size = 5 * Self.chunk + 17
            let file = try await cluster.randomFile("ranged", size: size)
            #expect(try await cluster.put("ranged", file: file).status == 201)
            for (header, slice) in Self.cases(size: size) {
                let fetchesBefore = try await cluster.chunkFetches()
                let get = try await cluster.get("ranged", extra: ["-H", "Range: \(header)"])
                let chunksNeeded = (slice.upperBound - 1) / Self.chunk - slice.lowerBound / Self.chunk + 1
                #expect(try await cluster.chunkFetches() - fetchesBefore == chunksNeeded,
                        "\(header) should fetch only the \(chunksNeeded) chunk(s) it touches")
                #expect(get.status == 206 && get.curlExit == 0, "\(header): \(get)")
                #expect(get.headers["content-range"] == "bytes \(slice.lowerBound)-\(slice.upperBound - 1)/\(size)", "\(header)")
                #expect(get.headers["content-length"] == "\(slice.count)", "\(header)")
                #expect(get.body == (try fileBytes(file, slice)), "\(header): \(get.body.count) bytes, wanted \(slice.count)")
            }
            // Several ranges, or none understood: the whole object with 200.
            for header in ["bytes=0-1,5-6", "bytes=abc", "items=0-5"] {
                let out = "\(cluster.scratch.files)/full"
                let get = try await cluster.get("ranged", to: out, extra: ["-H", "Range: \(header)"])
                #expect(get.status == 200 && get.headers["content-range"] == nil, "\(header): \(get)")
                #expect(try await sameBytes(file, out, scratch: cluster.scratch.tmp), "\(header)")
            }
            // A ranged HEAD announces the slice without sending it.
            let head = try await cluster.get("ranged", to: "/dev/null", extra: ["-I", "-H", "Range: bytes=10-19"])
            #expect(head.status == 206 && head.headers["content-length"] == "10", "\(head)")
        }
    }

    @Test("unsatisfiable ranges answer 416 with Content-Range: bytes */size", arguments: testedEngines)
    func unsatisfiable(engine: IOEngineKind) async throws {
        try await withCluster(engine, "range416", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let size = 2 * Self.chunk + 5
            let file = try await cluster.randomFile("ranged", size: size)
            #expect(try await cluster.put("ranged", file: file).status == 201)
            for header in ["bytes=\(size)-", "bytes=\(size)-\(size + 10)", "bytes=999999999-", "bytes=-0"] {
                let get = try await cluster.get("ranged", extra: ["-H", "Range: \(header)"])
                #expect(get.status == 416 && get.isJSON, "\(header): \(get)")
                #expect(get.headers["content-range"] == "bytes */\(size)", "\(header): \(get.headers)")
            }
            let empty = "\(cluster.scratch.files)/empty"
            _ = FileManager.default.createFile(atPath: empty, contents: nil)
            #expect(try await cluster.put("empty", file: empty).status == 201)
            let get = try await cluster.get("empty", extra: ["-H", "Range: bytes=0-0"])
            #expect(get.status == 416 && get.headers["content-range"] == "bytes */0", "empty object: \(get)")
            #expect(try await cluster.get("missing", extra: ["-H", "Range: bytes=0-0"]).status == 404)
        }
    }
}
