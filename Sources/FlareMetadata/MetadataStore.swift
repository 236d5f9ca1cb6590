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
    /// Commits a manifest (replacing any previous one) and returns the replaced one.
    func commit(_ manifest: ObjectManifest) async throws -> ObjectManifest?
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
