import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// `POST /object/{key}` with `multipart/form-data`, as `curl -F` and HTML forms send it.
@Suite("Form uploads (multipart/form-data POST)")
struct FormUploadTests {
    static let chunk = 4 << 20

    /// `curl -F note=… -F file=@path` to `key`.
    static func post(_ cluster: Cluster, _ key: String, file: String, extra: [String] = []) async throws -> CurlResult {
        try await curl(["-F", "note=a field before the file", "-F", "file=@\(file);filename=upload.bin"] + extra + [cluster.url(key)],
                       scratch: cluster.scratch.tmp)
    }

    /// POSTs `body` (a hand-made form) with `boundary`.
    static func postRaw(_ cluster: Cluster, _ key: String, _ body: String, boundary: String = "x",
                        contentType: String? = nil) async throws -> CurlResult {
        let path = "\(cluster.scratch.files)/form-\(UUID().uuidString)"
        try Data(body.utf8).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        return try await curl(["-X", "POST", "--data-binary", "@\(path)", "-H", "Content-Type: \(contentType ?? "multipart/form-data; boundary=\(boundary)")",
                               cluster.url(key)], scratch: cluster.scratch.tmp)
    }

    @Test("curl -F of 0, 1, chunk−1, chunk, chunk+1 and 300 MiB: 201, and the same bytes back (cmp)", arguments: testedEngines)
    func sizes(engine: IOEngineKind) async throws {
        try await withCluster(engine, "form-sizes") { cluster in
            for size in [0, 1, Self.chunk - 1, Self.chunk, Self.chunk + 1, 300 << 20] {
                let file = try await cluster.randomFile("form-\(size)", size: size)
                let key = "form/\(size)"
                let post = try await Self.post(cluster, key, file: file)
                try #require(post.status == 201, "POST of \(size) bytes: \(post)")
                #expect(post.json?["size"] as? Int == size, "\(post)")
                #expect(post.json?["chunks"] as? Int == (size + Self.chunk - 1) / Self.chunk, "\(post)")
                #expect(post.json?["checksum"] as? String == CRC32C.headerValue(try fileCRC32C(file)))
                let out = file + ".out"
                let get = try await cluster.get(key, to: out)
                #expect(get.status == 200 && get.headers["content-length"] == "\(size)", "GET \(size): \(get)")
                #expect(try await sameBytes(file, out, scratch: cluster.scratch.tmp), "\(size) bytes came back different")
                unlink(out)
                unlink(file)
            }
        }
    }

    @Test("malformed or cut-off forms, a second file, no file, the wrong type: 4xx with a message, nothing committed, no chunk left behind",
          arguments: testedEngines)
    func refused(engine: IOEngineKind) async throws {
        try await withCluster(engine, "form-bad", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            // An object already under the key: a refused POST must leave it as it was.
            let original = try await cluster.randomFile("original", size: 100_000)
            #expect(try await cluster.put("kept", file: original).status == 201)
            let before = try await cluster.chunksPerNode()
            let file = "Content-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n"
            let big = String(repeating: "0123456789abcdef", count: 20_000)  // 320 000 bytes: five chunks sent before the end is seen
            let cases: [(String, String, Int, String)] = [
                ("cut off inside the file", "--x\r\n\(file)\(big)", 400, "closing boundary"),
                ("no closing boundary", "--x\r\n\(file)\(big)\r\n--x", 400, "ends right after a boundary"),
                ("a second file", "--x\r\n\(file)\(big)\r\n--x\r\n\(file)more\r\n--x--\r\n", 400, "only one file field"),
                ("junk after a boundary", "--x\r\n\(file)\(big)\r\n--xjunk\r\n", 400, "CRLF or --"),
                ("no file field", "--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nabc\r\n--x--\r\n", 400, "no file field"),
                ("a part without Content-Disposition", "--x\r\nContent-Type: text/plain\r\n\r\nabc\r\n--x--\r\n", 400, "Content-Disposition"),
            ]
            for (what, body, status, message) in cases {
                let post = try await Self.postRaw(cluster, "kept", body)
                #expect(post.status == status, "\(what): \(post)")
                #expect(post.isJSON && post.text.contains(message), "\(what): \(post)")
            }
            let wrongType = try await Self.postRaw(cluster, "kept", "abc", contentType: "application/octet-stream")
            #expect(wrongType.status == 415 && wrongType.text.contains("multipart/form-data"), "\(wrongType)")
            let noBoundary = try await Self.postRaw(cluster, "kept", "abc", contentType: "multipart/form-data")
            #expect(noBoundary.status == 400 && noBoundary.text.contains("boundary"), "\(noBoundary)")

            try await cluster.expectEveryObjectReadsBack(["kept": original], "after the refused forms")
            #expect(try await cluster.listKeys() == ["kept"])
            #expect(try await cluster.chunksPerNode() == before, "a refused form left chunks behind")
        }
    }
}
