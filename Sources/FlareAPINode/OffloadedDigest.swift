import Dispatch
import FlareIO
import FlareS3
import Synchronization

/// An S3 PUT's digests (MD5 always, SHA-256 or a checksum when asked), computed off the event
/// loop and pipelined with the upload: while one chunk is hashed on another core, the loop
/// receives the next. MD5 is sequential — about a core for 600–700 MB/s here — so on the loop
/// it would stop every connection of that loop for the whole time.
///
/// At most one chunk of an upload is being hashed at a time (chunks are hashed in order, as
/// MD5 requires). That chunk's buffer is held here until its hash is done, so the pipeline
/// cannot reuse it while it is read, and released on the loop, where buffers go back to
/// their pool. Loop-confined: call ``add(_:)``, ``finalize()`` and ``settle()`` from the
/// loop of the upload; always ``finalize()`` or ``settle()`` before dropping it.
final class OffloadedDigest: @unchecked Sendable {
    /// Runs the hashing: any core but, by the dependency above, one job per upload at a time.
    private static let queue = DispatchQueue(label: "flare.digest", qos: .userInitiated, attributes: .concurrent)

    /// The hasher, touched by one job at a time and by the loop only between jobs.
    private final class State: @unchecked Sendable {
        var hasher: PayloadHasher
        init(_ hasher: PayloadHasher) { self.hasher = hasher }
    }

    /// One chunk's hashing: done once, awaited at most once.
    private final class Job: Sendable {
        private let state = Mutex<(done: Bool, waiter: UnsafeContinuation<Void, Never>?)>((false, nil))

        func finish() {
            let waiter = state.withLock { state -> UnsafeContinuation<Void, Never>? in
                state.done = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }

        func wait() async {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let done = state.withLock { state -> Bool in
                    if !state.done { state.waiter = continuation }
                    return state.done
                }
                if done { continuation.resume() }
            }
        }
    }

    private let state: State
    /// The chunk being hashed and its job, when one is.
    private var pending: (buffer: IOBuffer, job: Job)?

    init(_ configuration: PayloadHasher.Configuration) {
        state = State(PayloadHasher(configuration))
    }

    deinit {
        precondition(pending == nil, "a digest dropped while a chunk is being hashed")
    }

    /// Hashes `buffer`'s bytes next, after the chunk before it; returns once that one is done
    /// and this one has started.
    func add(_ buffer: IOBuffer) async {
        await settle()
        guard buffer.count > 0 else { return }
        let job = Job()
        pending = (buffer, job)
        // The buffer is held in `pending` until the job is done, so its bytes stay valid.
        nonisolated(unsafe) let bytes = buffer.bytes
        let state = self.state
        Self.queue.async {
            state.hasher.update(bytes)
            job.finish()
        }
    }

    /// Waits for the chunk being hashed, if any, and lets its buffer go.
    func settle() async {
        guard let (_, job) = pending else { return }
        await job.wait()
        pending = nil
    }

    /// The digests of every chunk added.
    func finalize() async -> PayloadDigests {
        await settle()
        return state.hasher.finalize()
    }
}
