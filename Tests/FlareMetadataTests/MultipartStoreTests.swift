import FlareCore
@testable import FlareMetadata
import FlareTestSupport
import Testing

/// S3 multipart uploads in the store: parts are manifests; completing is one transaction that
/// moves their chunks into the object and queues what is left over.
@Suite("Multipart uploads in the metadata store")
struct MultipartStoreTests {
    typealias M = ManifestFixtures

    static func part(_ id: String, _ number: Int, size: Int, seed: UInt64, md5: String) -> ObjectManifest {
        var manifest = M.manifest(key: MultipartUpload.partKey(id, number), size: size, seed: seed, replicas: ["n1", "n2"])
        manifest.attributes.md5 = md5
        return manifest
    }

    @Test("complete: the listed parts' chunks in order, one manifest, parts gone, the unlisted part's chunks and the replaced object's queued")
    func complete() async throws {
        try await withStore(graceSeconds: 0, bucketsRequired: true) { store, _ async throws in
            _ = try await store.createBucket("b", createdNanoseconds: 1)
            let old = M.manifest(key: "b/k", size: 100, seed: 1, replicas: ["n1"])
            _ = try await store.commit(old)
            try await store.createUpload(MultipartUpload(id: "u1", key: "b/k", createdNanoseconds: 1,
                                                         attributes: ObjectAttributes(contentType: "text/plain")))
            let one = Self.part("u1", 1, size: 3 * 65536, seed: 2, md5: String(repeating: "1", count: 32))
            let two = Self.part("u1", 2, size: 65536 + 7, seed: 3, md5: String(repeating: "2", count: 32))
            let unused = Self.part("u1", 3, size: 10, seed: 4, md5: String(repeating: "3", count: 32))
            for part in [one, two, unused] { _ = try await store.commit(part) }
            let object = try await store.completeUpload("u1", parts: [(1, String(repeating: "1", count: 32)), (2, String(repeating: "2", count: 32))],
                                                        partSizeMin: 65536, etag: "abc-2")
            #expect(object.size == one.size + two.size && object.chunks.count == one.chunks.count + two.chunks.count)
            #expect(object.chunks.map(\.id) == one.chunks.map(\.id) + two.chunks.map(\.id))
            #expect(object.chunks.map(\.index) == Array(0..<object.chunks.count))
            #expect(object.attributes.md5 == "abc-2" && object.attributes.contentType == "text/plain")
            #expect(try await store.manifest(for: "b/k") == object)
            #expect(try await store.upload("u1") == nil)
            #expect(try await store.list(prefix: ".mpu/u1/", startAfter: nil, limit: 10).entries.isEmpty, "parts left behind")
            let queued = Set(try await store.pendingDeletions(limit: 100).map { "\($0.chunk)" })
            #expect(queued == Set((old.chunks + unused.chunks).map { "\($0.id)" }), "only the replaced object's and the unlisted part's chunks go")
            // A bucket deleted meanwhile gets nothing back.
            try await store.createUpload(MultipartUpload(id: "u2", key: "gone/k", createdNanoseconds: 1, attributes: ObjectAttributes()))
            _ = try await store.commit(Self.part("u2", 1, size: 10, seed: 6, md5: String(repeating: "5", count: 32)))
            await #expect(throws: BucketMissing.self) {
                _ = try await store.completeUpload("u2", parts: [(1, String(repeating: "5", count: 32))], partSizeMin: 0, etag: "y-1")
            }
            await #expect(throws: BucketMissing.self) { _ = try await store.commit(M.manifest(key: "gone/k", size: 10, seed: 7, replicas: ["n1"])) }
            // A part sent after the end is refused at its commit: it would be left for ever.
            await #expect(throws: MultipartCompletionError.noSuchUpload) {
                _ = try await store.commit(Self.part("u1", 4, size: 10, seed: 5, md5: String(repeating: "4", count: 32)))
            }
        }
    }

    @Test("complete refuses: unknown upload, a part not uploaded or with another ETag, parts out of order, a small part not last")
    func refusals() async throws {
        try await withStore(graceSeconds: 0, bucketsRequired: true) { store, _ async throws in
            _ = try await store.createBucket("b", createdNanoseconds: 1)
            try await store.createUpload(MultipartUpload(id: "u", key: "b/k", createdNanoseconds: 1, attributes: ObjectAttributes()))
            _ = try await store.commit(Self.part("u", 1, size: 100, seed: 1, md5: String(repeating: "a", count: 32)))
            _ = try await store.commit(Self.part("u", 2, size: 100, seed: 2, md5: String(repeating: "b", count: 32)))
            let a = String(repeating: "a", count: 32), b = String(repeating: "b", count: 32)
            await #expect(throws: MultipartCompletionError.noSuchUpload) { _ = try await store.completeUpload("nope", parts: [(1, a)], partSizeMin: 0, etag: "x") }
            await #expect(throws: MultipartCompletionError.invalidPart(3)) { _ = try await store.completeUpload("u", parts: [(1, a), (3, b)], partSizeMin: 0, etag: "x") }
            await #expect(throws: MultipartCompletionError.invalidPart(2)) { _ = try await store.completeUpload("u", parts: [(1, a), (2, a)], partSizeMin: 0, etag: "x") }
            await #expect(throws: MultipartCompletionError.invalidPartOrder) { _ = try await store.completeUpload("u", parts: [(2, b), (1, a)], partSizeMin: 0, etag: "x") }
            await #expect(throws: MultipartCompletionError.entityTooSmall(1)) { _ = try await store.completeUpload("u", parts: [(1, a), (2, b)], partSizeMin: 101, etag: "x") }
            let object = try await store.manifest(for: "b/k"), upload = try await store.upload("u")
            #expect(object == nil && upload != nil, "a refused completion changed something")
            #expect(try await store.abortUpload("u"))
            #expect(try await !store.abortUpload("u"))
            #expect(try await store.pendingDeletions(limit: 10).count == 4, "both parts' copies queued at the abort")
        }
    }
}
