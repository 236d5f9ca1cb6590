@testable import FlareAPINode
import FlareCore
import FlareMetadata
import Synchronization

/// A metadata store in memory that records what the pipeline asked of it, and fails
/// commits on demand.
final class MemoryMetadataStore: MetadataStore, @unchecked Sendable {
    struct Refused: Error {}

    struct State {
        var objects: [String: ObjectManifest] = [:]
        var reserved: Set<ChunkID> = []
        var queued: [ChunkCopy] = []
        var reserveWrites = 0
    }

    let state = Mutex(State())
    let failCommits: Bool
    /// Reservation writes that fail before they succeed.
    private let reservationFailures: Mutex<Int>
    /// While set, reservation writes wait for ``finishHeldReservations()``.
    let holdReservations = Mutex(false)
    private let held = Mutex<[CheckedContinuation<Void, Never>]>([])

    /// Reservation writes waiting (while ``holdReservations`` is set).
    var heldReservations: Int { held.withLock { $0.count } }

    /// Lets every held reservation write finish.
    func finishHeldReservations() {
        for writer in held.withLock({ held in defer { held.removeAll() }; return held }) { writer.resume() }
    }

    init(failCommits: Bool = false, failReservationsFirst: Int = 0) {
        self.failCommits = failCommits
        reservationFailures = Mutex(failReservationsFirst)
    }

    func manifest(for key: String) async throws -> ObjectManifest? { state.withLock { $0.objects[key] } }

    func commit(_ manifest: ObjectManifest, strays: [(chunk: ChunkID, node: String)]) async throws -> ObjectManifest? {
        if failCommits { throw Refused() }
        return state.withLock { state in
            for chunk in manifest.chunks { precondition(state.reserved.remove(chunk.id) != nil, "committed an id never reserved") }
            state.queued += strays.map { ChunkCopy(chunk: $0.chunk, node: $0.node) }
            defer { state.objects[manifest.key] = manifest }
            return state.objects[manifest.key]
        }
    }

    func reserveChunkIDs(_ ids: [ChunkID]) async throws {
        if holdReservations.withLock({ $0 }) {
            await withCheckedContinuation { writer in held.withLock { $0.append(writer) } }
        }
        let fails = reservationFailures.withLock { left in
            defer { left = max(0, left - 1) }
            return left > 0
        }
        if fails { throw Refused() }
        state.withLock { state in
            state.reserveWrites += 1
            state.reserved.formUnion(ids)
        }
    }

    func releaseChunkIDs(_ ids: [ChunkID], leftovers: [(chunk: ChunkID, node: String)]) async throws {
        state.withLock { state in
            state.reserved.subtract(ids)
            state.queued += leftovers.map { ChunkCopy(chunk: $0.chunk, node: $0.node) }
        }
    }

    func reclaimReservations(onNodes nodes: [String]) async throws -> Int { 0 }

    func knownNodes() async throws -> [KnownNode] { [] }

    func recordNode(_ node: KnownNode) async throws {}

    func layoutVersion() async throws -> Int64 { 0 }

    func setMembership(_ membership: NodeMembership, of id: String) async throws -> KnownNode {
        preconditionFailure("the PUT pipeline does not change the layout")
    }

    func removeNode(_ id: String, ifHoldingNone: Bool) async throws -> KnownNode {
        preconditionFailure("the PUT pipeline does not change the layout")
    }

    func setWeight(_ weight: Int?, of id: String) async throws -> KnownNode {
        preconditionFailure("the PUT pipeline does not change the layout")
    }

    func copiesByNode() async throws -> [String: Int] { preconditionFailure("the PUT pipeline does not count copies") }

    func deletionsByNode() async throws -> [String: Int] { preconditionFailure("the PUT pipeline does not count deletions") }

    func renameReplicas(address: String, to id: String) async throws -> Int { 0 }

    func buckets() async throws -> [BucketInfo] { [] }

    func createBucket(_ name: String, createdNanoseconds: Int64) async throws -> Bool { true }

    func bucket(_ name: String) async throws -> BucketInfo? { nil }

    func setBucketPublicRead(_ name: String, _ publicRead: Bool) async throws -> Bool { false }

    func deleteBucket(_ name: String) async throws -> BucketDeletion { preconditionFailure("the PUT pipeline does not delete buckets") }

    func createUpload(_ upload: MultipartUpload) async throws { preconditionFailure("no multipart here") }

    func upload(_ id: String) async throws -> MultipartUpload? { nil }

    func uploads(prefix: String) async throws -> [MultipartUpload] { [] }

    func completeUpload(_ id: String, parts: [(number: Int, etag: String)], partSizeMin: Int, etag: String) async throws -> ObjectManifest {
        preconditionFailure("no multipart here")
    }

    func abortUpload(_ id: String) async throws -> Bool { false }

    func delete(key: String) async throws -> ObjectManifest? { state.withLock { $0.objects.removeValue(forKey: key) } }

    func list(prefix: String, startAfter: String?, limit: Int) async throws -> ObjectListing {
        preconditionFailure("the PUT pipeline does not list")
    }

    func enqueueDeletions(_ copies: [(chunk: ChunkID, node: String)]) async throws {
        state.withLock { $0.queued += copies.map { ChunkCopy(chunk: $0.chunk, node: $0.node) } }
    }

    func pendingDeletions(after: Int64, limit: Int) async throws -> [PendingDeletion] { [] }

    func finishDeletions(_ sequences: [Int64]) async throws {}

    func isDeletionQueued(chunk: ChunkID, node: String) async throws -> Bool {
        state.withLock { $0.queued.contains(ChunkCopy(chunk: chunk, node: node)) }
    }

    func beginRepair(key: String, chunk: ChunkID, node: String) async throws {
        preconditionFailure("the PUT pipeline does not repair")
    }

    func finishRepair(_ repair: ChunkRepair) async throws -> Bool { preconditionFailure("the PUT pipeline does not repair") }

    func abandonRepair(chunk: ChunkID, node: String) async throws { preconditionFailure("the PUT pipeline does not repair") }

    func reclaimRepairs() async throws -> Int { 0 }

    func unreferencedChunks(_ chunks: [ChunkID], nodeNames: [String]) async throws -> [ChunkID] {
        state.withLock { state in chunks.filter { !Self.isReferenced($0, nodeNames, state) } }
    }

    func isCopyReferenced(chunk: ChunkID, nodeNames: [String]) async throws -> Bool {
        state.withLock { Self.isReferenced(chunk, nodeNames, $0) }
    }

    /// Reserved anywhere, queued for deletion there, or named there by a manifest (this store
    /// keeps no repairs).
    private static func isReferenced(_ chunk: ChunkID, _ names: [String], _ state: State) -> Bool {
        state.reserved.contains(chunk)
            || names.contains { state.queued.contains(ChunkCopy(chunk: chunk, node: $0)) }
            || state.objects.values.contains { $0.chunks.contains { $0.id == chunk && $0.replicas.contains(where: names.contains) } }
    }
}
