import FlareCore

/// A page of `GET /objects`.
public struct ObjectListing: Sendable {
    public struct Entry: Sendable {
        public var key: String
        public var size: Int
        public var etag: String
        public var createdNanoseconds: Int64
    }

    public var entries: [Entry]
    /// Set when more keys follow; pass it as `startAfter` for the next page.
    public var nextStartAfter: String?
}

/// A chunk copy waiting to be deleted from a data node.
public struct PendingDeletion: Sendable, Equatable {
    public var sequence: Int64
    public var chunk: ChunkID
    public var node: String
}

/// Where manifests live. Implementations make a commit durable before returning, replace
/// an existing key atomically, and queue the chunks of replaced and deleted objects for
/// deletion in the same transaction, so a crash never leaks them.
public protocol MetadataStore: Sendable {
    /// The committed manifest of `key`, if any.
    func manifest(for key: String) async throws -> ObjectManifest?
    /// Commits a manifest (replacing any previous one) and returns the replaced one. The
    /// reservations of the manifest's chunk ids end in the same transaction, and `strays` —
    /// copies the upload sent that the manifest does not name (attempts that failed over to
    /// another node) — are queued for deletion.
    func commit(_ manifest: ObjectManifest, strays: [(chunk: ChunkID, node: String)]) async throws -> ObjectManifest?
    /// Records chunk ids before any copy of them is sent, all in one write. If the process
    /// dies before an id is committed or released, ``reclaimReservations(onNodes:)`` at the
    /// next start queues its copies for deletion, so a crash mid-upload leaks nothing.
    /// Survives a process crash (not necessarily a power loss): it is not fsynced, to keep
    /// uploads fast.
    func reserveChunkIDs(_ ids: [ChunkID]) async throws
    /// Ends the reservations of ids that will not be committed (an upload that failed, or
    /// ids never used); `leftovers` (copies that could not be deleted directly) are queued
    /// for deletion in the same transaction.
    func releaseChunkIDs(_ ids: [ChunkID], leftovers: [(chunk: ChunkID, node: String)]) async throws
    /// For a start-up, before any upload: every reservation left (by a process that died)
    /// becomes a queued deletion of that chunk on each of `nodes`, where a copy may have
    /// landed. Returns how many ids were reclaimed.
    func reclaimReservations(onNodes nodes: [String]) async throws -> Int
    /// Removes a key and returns its manifest, or `nil` when it did not exist.
    func delete(key: String) async throws -> ObjectManifest?
    /// Keys starting with `prefix`, after `startAfter`, in byte order.
    func list(prefix: String, startAfter: String?, limit: Int) async throws -> ObjectListing
    /// Queues chunk copies for deletion (chunks of an upload that never committed).
    func enqueueDeletions(_ copies: [(chunk: ChunkID, node: String)]) async throws
    /// The oldest queued deletions.
    func pendingDeletions(limit: Int) async throws -> [PendingDeletion]
    /// Removes finished deletions from the queue.
    func finishDeletions(_ sequences: [Int64]) async throws
}

extension MetadataStore {
    /// Commits a manifest whose upload left no stray copies.
    public func commit(_ manifest: ObjectManifest) async throws -> ObjectManifest? {
        try await commit(manifest, strays: [])
    }
}
