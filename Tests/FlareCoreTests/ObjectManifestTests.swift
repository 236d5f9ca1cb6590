import FlareCore
import FlareTestSupport
import Testing

/// Manifests as the metadata store keeps them: the chunk list as text, and the invariants
/// a reader relies on.
@Suite("ObjectManifest")
struct ObjectManifestTests {
    typealias M = ManifestFixtures

    @Test("encodeChunks / decodeChunks round trip", arguments: [0, 1, 65535, 65536, 65537, 3 * 65536 + 17])
    func roundTrip(size: Int) throws {
        for replicas in [["127.0.0.1:9001"], ["127.0.0.1:9001", "[::1]:9002", "10.0.0.3:9003"]] {
            let original = M.manifest(size: size, seed: UInt64(size), replicas: replicas)
            #expect(original.validate() == nil)
            let decoded = try #require(ObjectManifest.decodeChunks(original.encodeChunks()))
            #expect(decoded == original.chunks)
        }
    }

    @Test("CRC32C values with leading zeros and the extremes survive encoding")
    func checksumExtremes() throws {
        var manifest = M.manifest(size: 4 * 65536)
        for (index, crc) in [UInt32(0), 1, 0x0000_FFFF, UInt32.max].enumerated() { manifest.chunks[index].crc32c = crc }
        #expect(try #require(ObjectManifest.decodeChunks(manifest.encodeChunks())) == manifest.chunks)
    }

    @Test("malformed chunk lists decode to nil", arguments: [
        "0 00000000000000000000000000000001 10 0000000a\n",
        "0 00000000000000000000000000000001 10 0000000a 127.0.0.1:9001 extra\n",
        "x 00000000000000000000000000000001 10 0000000a 127.0.0.1:9001\n",
        "0 0000000000000000000000000000000G 10 0000000a 127.0.0.1:9001\n",
        "0 00000000000000000000000000000001 ten 0000000a 127.0.0.1:9001\n",
        "0 00000000000000000000000000000001 10 zzzz 127.0.0.1:9001\n",
        "0 00000000000000000000000000000001 10 1ffffffff 127.0.0.1:9001\n",
    ])
    func malformed(text: String) {
        #expect(ObjectManifest.decodeChunks(text) == nil)
    }

    @Test("validate accepts what a writer produces")
    func validateAccepts() {
        for size in [0, 1, 65535, 65536, 65537, 10 * 65536, 10 * 65536 + 1] {
            #expect(M.manifest(size: size).validate() == nil, "size \(size)")
        }
    }

    @Test("validate refuses broken manifests")
    func validateRefuses() {
        let good = M.manifest(size: 3 * 65536 + 17)
        var broken: [(String, ObjectManifest)] = []
        var m = good
        m.chunks.swapAt(0, 1)
        broken.append(("chunks out of order", m))
        m = good
        m.chunks.remove(at: 1)
        broken.append(("chunk missing", m))
        m = good
        m.chunks[2].replicas = []
        broken.append(("no replica", m))
        m = good
        m.chunks[1].length = 65535
        broken.append(("short chunk before the last", m))
        m = good
        m.chunks[3].length = 0
        broken.append(("empty last chunk", m))
        m = good
        m.chunks[3].length = 65537
        m.size = 4 * 65536 + 1
        broken.append(("last chunk longer than chunkSize", m))
        m = good
        m.size += 1
        broken.append(("size disagrees with the chunks", m))
        m = M.manifest(size: 0)
        m.size = 5
        broken.append(("size without chunks", m))
        for (why, manifest) in broken {
            #expect(manifest.validate() != nil, "\(why) passed validation")
        }
    }

    @Test("etag changes with content, size and commit time")
    func etag() {
        let base = M.manifest(size: 100)
        var other = base
        other.crc32c ^= 1
        #expect(other.etag != base.etag)
        other = base
        other.createdNanoseconds += 1
        #expect(other.etag != base.etag)
        other = M.manifest(size: 101)
        #expect(other.etag != base.etag)
        #expect(base.etag.hasPrefix("\"") && base.etag.hasSuffix("\""), "an entity tag is a quoted string")
    }
}
