@testable import FlareAPINode
import FlareCore
import FlareIO
import FlareMetadata
import FlareMetrics
import Foundation
import Logging
import Synchronization
import Testing

@Suite("UploadExpiryWorker: unfinished multipart uploads are aborted after --multipart-expiry, by a clock the test drives")
struct UploadExpiryWorkerTests {
    static let second: Int64 = 1_000_000_000

    @Test("expired: created at least the expiry before now")
    func expired() {
        let uploads = [10, 40, 41, 100].map { MultipartUpload(id: "u\($0)", key: "b/k", createdNanoseconds: Int64($0) * Self.second, attributes: ObjectAttributes()) }
        #expect(UploadExpiryWorker.expired(uploads, now: 100 * Self.second, expirySeconds: 60).map(\.id) == ["u10", "u40"])
        #expect(UploadExpiryWorker.expired(uploads, now: 100 * Self.second, expirySeconds: 1000).isEmpty)
    }

    @Test("a pass aborts what has expired, leaves the rest, and counts it; the next pass takes the rest in its turn")
    func passes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flare-expiry-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteMetadataStore(path: "\(directory)/meta.sqlite", deletionGraceSeconds: 0)
        defer { store.close() }
        for (id, created) in [("old", 10), ("young", 90)] {
            try await store.createUpload(MultipartUpload(id: id, key: "b/\(id)", createdNanoseconds: Int64(created) * Self.second, attributes: ObjectAttributes()))
        }
        let now = Mutex<Int64>(100 * Self.second)
        let loop = try EventLoop.start(engine: .epoll, name: "expiry-test")
        defer { loop.shutdown() }
        let metrics = NodeMetrics()
        let worker = UploadExpiryWorker(loop: loop, metadata: store, metrics: metrics, expirySeconds: 60, logger: Logger(label: "expiry-test"),
                                        now: { now.withLock { $0 } })
        #expect(worker.intervalSeconds == 6)
        #expect(await worker.runPass() == 1)
        #expect(try await store.upload("old") == nil)
        #expect(try await store.upload("young") != nil)
        #expect(await worker.runPass() == 0)
        now.withLock { $0 = 150 * Self.second }
        #expect(await worker.runPass() == 1)
        #expect(try await store.uploads(prefix: "").isEmpty)
        #expect(metrics.value("flare_api_multipart_expired_total") == 2)
    }
}
