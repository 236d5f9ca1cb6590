import FlareCore
import FlareIO
import FlareMetadata
import FlareMetrics
import Logging

/// Aborts multipart uploads nobody finished: an upload created more than `expirySeconds`
/// ago (`--multipart-expiry`) is aborted as AbortMultipartUpload would, so its parts' chunks
/// go to the deletion queue and are reclaimed from the data nodes. A client still sending a
/// part of it then gets NoSuchUpload (the part's commit is refused and its chunks deleted),
/// as S3's lifecycle rule for incomplete uploads behaves.
final class UploadExpiryWorker: @unchecked Sendable {
    private let loop: EventLoop
    private let metadata: MetadataStore
    private let metrics: NodeMetrics
    private let expirySeconds: Int
    private let logger: Logger
    /// Nanoseconds since the epoch, as uploads record their creation.
    private let now: @Sendable () -> Int64
    private var periodic: PeriodicPass?

    init(loop: EventLoop, metadata: MetadataStore, metrics: NodeMetrics, expirySeconds: Int, logger: Logger,
         now: @escaping @Sendable () -> Int64 = { wallClockNanoseconds() }) {
        precondition(expirySeconds > 0)
        self.loop = loop
        self.metadata = metadata
        self.metrics = metrics
        self.expirySeconds = expirySeconds
        self.logger = logger
        self.now = now
    }

    /// A tenth of the expiry between passes, within 0.1 s…1 h: an upload outlives its expiry
    /// by at most that much.
    var intervalSeconds: Double { min(3600, max(0.1, Double(expirySeconds) / 10)) }

    func start() {
        periodic = PeriodicPass(loop: loop, intervalSeconds: intervalSeconds) { [self] in await runPass() }
        periodic?.start()
    }

    func stop() async {
        await periodic?.stop()
    }

    /// The uploads among `uploads` created `expirySeconds` or longer before `now`.
    static func expired(_ uploads: [MultipartUpload], now: Int64, expirySeconds: Int) -> [MultipartUpload] {
        let cutoff = now - Int64(expirySeconds) * 1_000_000_000
        return uploads.filter { $0.createdNanoseconds <= cutoff }
    }

    /// Aborts every expired upload; returns how many were aborted. A metadata failure is
    /// logged and retried on the next pass.
    @discardableResult
    func runPass() async -> Int {
        let uploads: [MultipartUpload]
        do {
            uploads = try await metadata.uploads(prefix: "")
        } catch {
            logger.error("multipart expiry: cannot list the uploads: \(error)")
            return 0
        }
        var aborted = 0
        for upload in Self.expired(uploads, now: now(), expirySeconds: expirySeconds) where !Task.isCancelled {
            do {
                // False: completed or aborted by its client meanwhile.
                if try await metadata.abortUpload(upload.id) {
                    aborted += 1
                    logger.notice("multipart expiry: aborted upload \(upload.id) of \(upload.key), unfinished after \(expirySeconds) s; its parts' chunks are queued for deletion")
                }
            } catch {
                logger.error("multipart expiry: cannot abort upload \(upload.id) of \(upload.key): \(error)")
            }
        }
        if aborted > 0 { metrics.counter("flare_api_multipart_expired_total").increment(by: aborted) }
        return aborted
    }
}
