import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// Everything around the objects: health, metrics, methods, listing parameters.
@Suite("API routes")
struct RoutesTests {
    @Test("health names the engine in use; wrong methods and paths get JSON errors", arguments: testedEngines)
    func routes(engine: IOEngineKind) async throws {
        try await withCluster(engine, "routes", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let scratch = cluster.scratch.tmp
            let health = try await curl(["\(cluster.base)/health"], scratch: scratch)
            #expect(health.status == 200 && health.isJSON, "\(health)")
            #expect(health.json?["engine"] as? String == engine.rawValue, "--io \(engine) not honoured: \(health)")
            #expect(health.json?["dataNodes"] as? Int == 3)

            let patch = try await curl(["-X", "PATCH", "--data-binary", "x", cluster.url("k")], scratch: scratch)
            #expect(patch.status == 405 && patch.isJSON, "\(patch)")
            #expect(patch.headers["allow"]?.contains("PUT") == true && patch.headers["allow"]?.contains("POST") == true
                    && patch.headers["allow"]?.contains("DELETE") == true, "\(patch.headers)")
            // POST is a form upload: any other body is the wrong type, not the wrong method.
            let post = try await curl(["-X", "POST", "--data-binary", "x", cluster.url("k")], scratch: scratch)
            #expect(post.status == 415 && post.isJSON && post.text.contains("Unsupported Media Type"), "\(post)")
            let putList = try await curl(["-X", "PUT", "--data-binary", "x", "\(cluster.base)/objects"], scratch: scratch)
            #expect(putList.status == 405 && putList.isJSON, "\(putList)")
            let nowhere = try await curl(["\(cluster.base)/objectz/k"], scratch: scratch)
            #expect(nowhere.status == 404 && nowhere.isJSON, "\(nowhere)")
            let missing = try await cluster.get("no/such/key")
            #expect(missing.status == 404 && missing.isJSON, "\(missing)")

            for query in ["limit=0", "limit=1001", "limit=ten", "color=blue", "prefix=%ZZ"] {
                let list = try await curl(["\(cluster.base)/objects?\(query)"], scratch: scratch)
                #expect(list.status == 400 && list.isJSON, "?\(query): \(list)")
            }
            let empty = try await curl(["\(cluster.base)/objects"], scratch: scratch)
            #expect(empty.status == 200 && (empty.json?["objects"] as? [Any])?.isEmpty == true, "\(empty)")
            #expect(empty.json?["isTruncated"] as? Bool == false)

            // HEAD answers from the manifest alone: no chunk is fetched.
            let file = try await cluster.randomFile("headed", size: 4 * 65536)
            #expect(try await cluster.put("headed", file: file).status == 201)
            let fetches = try await cluster.chunkFetches()
            let head = try await cluster.get("headed", to: "/dev/null", extra: ["-I"])
            #expect(head.status == 200 && head.headers["content-length"] == "\(4 * 65536)" && head.headers["etag"] != nil, "\(head)")
            #expect(try await cluster.chunkFetches() == fetches, "HEAD fetched chunks")

            let metrics = try await curl(["\(cluster.base)/metrics"], scratch: scratch)
            #expect(metrics.status == 200 && metrics.text.contains("flare_api_requests_total{"), "\(metrics.text.prefix(500))")
        }
    }
}
