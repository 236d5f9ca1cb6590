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
    /// Commits a manifest (replacing any previous one) and returns the replaced one. With
    /// `upload`, that upload's recorded intents end in the same transaction: copies the
    /// manifest names are kept, the others (failed attempts) are queued for deletion.
    func commit(_ manifest: ObjectManifest, upload: String?) async throws -> ObjectManifest?
    /// Records, before a chunk copy is sent, that `upload` may leave it on `node`. If the
    /// process dies before the upload commits or is abandoned, the next start queues the
    /// copy for deletion, so a crash mid-upload leaks nothing. Survives a process crash (not
    /// necessarily a power loss): it is not fsynced, to keep uploads fast.
    func recordIntent(upload: String, chunk: ChunkID, node: String) async throws
    /// Ends an upload that will not commit: its intents go, `leftovers` (copies that could
    /// not be deleted directly) are queued for deletion.
    func abandonUpload(_ upload: String, leftovers: [(chunk: ChunkID, node: String)]) async throws
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
    /// Commits a manifest that no recorded upload produced.
    public func commit(_ manifest: ObjectManifest) async throws -> ObjectManifest? {
        try await commit(manifest, upload: nil)
    }
}
