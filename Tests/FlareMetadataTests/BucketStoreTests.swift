import FlareCore
@testable import FlareMetadata
import FlareTestSupport
import Testing

/// Buckets, and the S3 attributes an object carries, in the store.
@Suite("Buckets and object attributes in the metadata store")
struct BucketStoreTests {
    typealias M = ManifestFixtures

    @Test("a bucket is created once, listed by name, and deleted only when no key lies under it")
    func buckets() async throws {
        try await withStore(bucketsRequired: true) { store, _ async throws in
            #expect(try await store.createBucket("photos", createdNanoseconds: 5))
            #expect(try await !store.createBucket("photos", createdNanoseconds: 6), "created twice")
            #expect(try await store.createBucket("a-b", createdNanoseconds: 7))
            #expect(try await store.buckets() == [BucketInfo(name: "a-b", createdNanoseconds: 7), BucketInfo(name: "photos", createdNanoseconds: 5)])
            // "photos0" sorts right after every "photos/…" key: it must not count as inside.
            _ = try await store.commit(M.manifest(key: "photos0", size: 10, seed: 1, replicas: ["n"]))
            #expect(try await store.deleteBucket("photos") == .deleted)
            #expect(try await store.createBucket("photos", createdNanoseconds: 8))
            _ = try await store.commit(M.manifest(key: "photos/cat.jpg", size: 10, seed: 2, replicas: ["n"]))
            #expect(try await store.deleteBucket("photos") == .notEmpty)
            #expect(try await store.deleteBucket("nothing") == .missing)
            _ = try await store.delete(key: "photos/cat.jpg")
            #expect(try await store.deleteBucket("photos") == .deleted)
            // An upload in progress keeps its bucket, so it cannot complete into nothing.
            #expect(try await store.createBucket("photos", createdNanoseconds: 9))
            try await store.createUpload(MultipartUpload(id: "u", key: "photos/big", createdNanoseconds: 9, attributes: ObjectAttributes()))
            #expect(try await store.deleteBucket("photos") == .notEmpty)
            #expect(try await store.abortUpload("u"))
            #expect(try await store.deleteBucket("photos") == .deleted)
        }
    }

    @Test("a bucket is private when created, public-read when set, private again when unset; a missing bucket cannot be set; recreating one makes it private")
    func publicRead() async throws {
        try await withStore(bucketsRequired: true) { store, _ async throws in
            #expect(try await store.createBucket("site", createdNanoseconds: 5))
            #expect(try await store.bucket("site") == BucketInfo(name: "site", createdNanoseconds: 5, publicRead: false))
            #expect(try await store.setBucketPublicRead("site", true))
            #expect(try await store.bucket("site")?.publicRead == true)
            #expect(try await store.buckets().first?.publicRead == true)
            #expect(try await store.setBucketPublicRead("site", false))
            #expect(try await store.bucket("site")?.publicRead == false)
            #expect(try await !store.setBucketPublicRead("nothing", true))
            #expect(try await store.bucket("nothing") == nil)
            #expect(try await store.setBucketPublicRead("site", true))
            #expect(try await store.deleteBucket("site") == .deleted)
            #expect(try await store.createBucket("site", createdNanoseconds: 6))
            #expect(try await store.bucket("site")?.publicRead == false)
        }
    }

    @Test("an object's MD5, content type, headers and checksum come back from a lookup and a listing")
    func attributes() async throws {
        try await withStore(bucketsRequired: true) { store, _ async throws in
            _ = try await store.createBucket("b", createdNanoseconds: 1)
            var manifest = M.manifest(key: "b/k", size: 65536 + 3, seed: 3, replicas: ["n"])
            manifest.attributes = ObjectAttributes(md5: "0123456789abcdef0123456789abcdef", contentType: "text/plain; charset=utf-8",
                                                   headers: [.init(name: "x-amz-meta-color", value: "blue: dark"),
                                                             .init(name: "cache-control", value: "no-cache")],
                                                   checksum: .init(name: "x-amz-checksum-crc32", value: "thwCpw=="))
            _ = try await store.commit(manifest)
            #expect(try await store.manifest(for: "b/k") == manifest)
            let listed = try await store.list(prefix: "b/", startAfter: nil, limit: 10)
            #expect(listed.entries.map(\.etag) == ["\"0123456789abcdef0123456789abcdef\""])
            #expect(ObjectAttributes.decode(ObjectAttributes().encode()) == ObjectAttributes())
            #expect(ObjectAttributes.decode("no colon here\n") == nil)
            #expect(ObjectAttributes.decode(":checksum: no-value\n") == nil)
        }
    }
}
