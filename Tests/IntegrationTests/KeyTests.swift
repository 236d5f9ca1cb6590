import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// Keys on the wire: everything after `/object/`, percent-decoded; listed decoded.
@Suite("Object keys over HTTP")
struct KeyTests {
    /// (as sent in the URL, the key it names)
    static let keys: [(wire: String, key: String)] = [
        ("keys/dir/sub/file.txt", "keys/dir/sub/file.txt"),
        ("keys/with%20space", "keys/with space"),
        ("keys/euro%E2%82%AC", "keys/euro€"),
        ("keys/raw-ü-日本", "keys/raw-ü-日本"),
        ("keys/100%25done", "keys/100%done"),
        ("keys/q%3Fmark%23hash", "keys/q?mark#hash"),
        ("keys/slash%2Fescaped", "keys/slash/escaped"),
        ("keys/plus+sign", "keys/plus+sign"),
        ("keys/trailing/", "keys/trailing/"),
        ("keys//double", "keys//double"),
        ("keys/dots/../x", "keys/dots/../x"),
        // The longest key, 1024 bytes of 4-byte characters, escaped to 3 KiB of URL.
        ("keys/" + ObjectKey.encode(String(repeating: "😀", count: 254) + "abc"), "keys/" + String(repeating: "😀", count: 254) + "abc"),
    ]

    @Test("keys with slashes, spaces, unicode and escapes round-trip and are listed", arguments: testedEngines)
    func roundTrip(engine: IOEngineKind) async throws {
        try await withCluster(engine, "keys") { cluster in
            for (index, entry) in Self.keys.enumerated() {
                let file = "\(cluster.scratch.files)/key-\(index)"
                try Data("body of \(entry.key)\n".utf8).write(to: URL(fileURLWithPath: file))
                // --path-as-is: curl would otherwise resolve "/../" itself.
                let put = try await cluster.put(entry.wire, file: file, upload: .dataBinary, extra: ["--path-as-is"])
                #expect(put.status == 201, "PUT \(entry.wire): \(put)")
                #expect(put.json?["key"] as? String == entry.key, "PUT \(entry.wire): \(put)")
                // Read back both by the form it was sent in and by the canonical encoding.
                for wire in [entry.wire, ObjectKey.encode(entry.key)] {
                    let get = try await cluster.get(wire, extra: ["--path-as-is"])
                    #expect(get.status == 200 && get.text == "body of \(entry.key)\n", "GET \(wire) for \(entry.key): \(get)")
                }
            }
            let listed = try await cluster.listKeys(prefix: "keys/")
            #expect(listed == Self.keys.map(\.key).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })

            // Prefixes are decoded like keys; '+' in a query means a space.
            #expect(try await cluster.listKeys(prefix: "keys/euro%E2%82%AC") == ["keys/euro€"])
            #expect(try await cluster.listKeys(prefix: "keys/with%20") == ["keys/with space"])
            #expect(try await cluster.listKeys(prefix: "keys/with+") == ["keys/with space"])
            #expect(try await cluster.listKeys(prefix: "keys/q%3F") == ["keys/q?mark#hash"])
            #expect(try await cluster.listKeys(prefix: "nothing/") == [])
            // Small pages reach every key once.
            #expect(try await cluster.listKeys(prefix: "keys/", pageLimit: 2) == listed)

            let page = try await curl(["\(cluster.base)/objects?prefix=keys/dir/"], scratch: cluster.scratch.tmp)
            let objects = try #require(page.json?["objects"] as? [[String: Any]], "\(page)")
            #expect(objects.count == 1)
            #expect(objects.first?["size"] as? Int == "body of keys/dir/sub/file.txt\n".utf8.count)
            #expect(objects.first?["etag"] as? String != nil && objects.first?["lastModified"] as? String != nil)
        }
    }

    /// (path after `/object/`, why it is refused)
    static let invalid: [(wire: String, why: String)] = [
        ("", "empty key"),
        ("%ZZ", "malformed escape"),
        ("bad%", "escape cut short"),
        ("%00", "NUL"),
        ("a%1Fb", "control character"),
        ("a%7F", "DEL"),
        ("%C3%28", "invalid UTF-8"),
        (String(repeating: "k", count: 1025), "1025 bytes"),
    ]

    @Test("invalid keys answer 400 with a JSON error, for PUT, GET, HEAD and DELETE", arguments: testedEngines)
    func invalidKeys(engine: IOEngineKind) async throws {
        try await withCluster(engine, "badkeys") { cluster in
            let file = "\(cluster.scratch.files)/small"
            try Data("x".utf8).write(to: URL(fileURLWithPath: file))
            for entry in Self.invalid {
                let put = try await cluster.put(entry.wire, file: file, upload: .dataBinary)
                #expect(put.status == 400 && put.isJSON, "PUT \(entry.why): \(put)")
                #expect(put.json?["error"] != nil, "PUT \(entry.why): \(put)")
                let get = try await cluster.get(entry.wire)
                #expect(get.status == 400 && get.isJSON, "GET \(entry.why): \(get)")
                let head = try await cluster.get(entry.wire, to: "/dev/null", extra: ["-I"])
                #expect(head.status == 400, "HEAD \(entry.why): \(head)")
                let delete = try await cluster.delete(entry.wire)
                #expect(delete.status == 400 && delete.isJSON, "DELETE \(entry.why): \(delete)")
            }
            // 1024 bytes is still a key.
            let longest = String(repeating: "k", count: 1024)
            #expect(try await cluster.put(longest, file: file, upload: .dataBinary).status == 201)
            #expect(try await cluster.get(longest).text == "x")
            // Nothing invalid was stored on the way.
            #expect(try await cluster.listKeys() == [longest])
            let badPrefix = try await curl(["\(cluster.base)/objects?prefix=%ZZ"], scratch: cluster.scratch.tmp)
            #expect(badPrefix.status == 400 && badPrefix.isJSON, "\(badPrefix)")
        }
    }
}
