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

/// A bucket, as S3's ListBuckets shows it.
public struct BucketInfo: Sendable, Equatable {
    public var name: String
    public var createdNanoseconds: Int64
    /// Anonymous requests may read its objects and list it (S3's `public-read`).
    public var publicRead: Bool
    public init(name: String, createdNanoseconds: Int64, publicRead: Bool = false) {
        self.name = name
        self.createdNanoseconds = createdNanoseconds
        self.publicRead = publicRead
    }
}

/// An S3 multipart upload in progress.
public struct MultipartUpload: Sendable, Equatable {
    public var id: String
    /// The object's key in the store (`<bucket>/<key>`).
    public var key: String
    public var createdNanoseconds: Int64
    /// What the object will carry (content type, stored headers); the MD5 comes at completion.
    public var attributes: ObjectAttributes

    public init(id: String, key: String, createdNanoseconds: Int64, attributes: ObjectAttributes) {
        self.id = id
        self.key = key
        self.createdNanoseconds = createdNanoseconds
        self.attributes = attributes
    }

    /// Where part `number` lives in the store: a manifest like any object's.
    public static func partKey(_ id: String, _ number: Int) -> String { "\(partPrefix(id))\(String(number + 100_000).dropFirst())" }
    /// The key prefix of every part of upload `id`.
    public static func partPrefix(_ id: String) -> String { ".mpu/\(id)/" }
}

/// Why a multipart upload could not complete (S3's error codes).
public enum MultipartCompletionError: Error, Sendable, Equatable, CustomStringConvertible {
    case noSuchUpload
    /// Part `number` was not uploaded, or its ETag is not the one given.
    case invalidPart(Int)
    case invalidPartOrder
    /// Part `number` (not the last) is smaller than the minimum.
    case entityTooSmall(Int)

    public var description: String {
        switch self {
        case .noSuchUpload: "no such multipart upload"
        case .invalidPart(let number): "part \(number) was not uploaded, or its ETag is not the one given"
        case .invalidPartOrder: "parts must be listed in ascending order, each once"
        case .entityTooSmall(let number): "part \(number) is smaller than 5 MiB and not the last"
        }
    }
}

/// What deleting a bucket did.
public enum BucketDeletion: Sendable, Equatable {
    case deleted
    case missing
    /// It holds objects (S3's 409 BucketNotEmpty).
    case notEmpty
}

/// A chunk copy waiting to be deleted from a data node.
public struct PendingDeletion: Sendable, Equatable {
    public var sequence: Int64
    public var chunk: ChunkID
    public var node: String
}

/// A data node's place in the cluster layout, as the operator set it.
public enum NodeMembership: String, Sendable, CaseIterable, Codable {
    /// Takes new chunks and holds its share.
    case active
    /// Takes no new chunks; its copies are made again on active nodes, then it may be removed.
    case draining
    /// Out of the cluster: not probed, not read from; its copies are made again elsewhere.
    case removed
}

/// A data node as the api last saw it, with its place in the layout.
public struct KnownNode: Sendable, Equatable {
    /// The id the node keeps in its data directory (32 hex).
    public var id: String
    /// `host:port` it was last reached at.
    public var address: String
    public var zone: String
    public var capacityBytes: Int
    /// Wall-clock nanoseconds of the last time it answered.
    public var seenNanoseconds: Int64
    public var membership: NodeMembership
    /// The operator's placement weight; `nil`: the capacity in GiB (at least 1).
    public var weight: Int?

    public init(id: String, address: String, zone: String, capacityBytes: Int, seenNanoseconds: Int64,
                membership: NodeMembership = .active, weight: Int? = nil) {
        self.id = id
        self.address = address
        self.zone = zone
        self.capacityBytes = capacityBytes
        self.seenNanoseconds = seenNanoseconds
        self.membership = membership
        self.weight = weight
    }

    /// The weight placement uses: the operator's, else the capacity in GiB.
    public var placementWeight: Int { weight ?? max(1, capacityBytes >> 30) }
}

/// A commit refused because a copy it names is on a node removed from the layout meanwhile;
/// the upload fails as if that node had (its copies are deleted like any failed upload's).
public struct NodeRemoved: Error, CustomStringConvertible {
    public let node: String
    public var description: String { "data node \(node) was removed from the layout during the upload; send it again" }
}

/// A commit into a bucket that does not exist (deleted while the upload ran).
public struct BucketMissing: Error, CustomStringConvertible {
    public let bucket: String
    public var description: String { "the bucket \(bucket) does not exist (deleted during the upload?)" }
}

/// A layout change the store refuses.
public struct LayoutError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable { case unknownNode, conflict }
    public let kind: Kind
    public let description: String
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// Where manifests live. Implementations make a commit durable before returning, replace
/// an existing key atomically, and queue the chunks of replaced and deleted objects for
/// deletion in the same transaction, so a crash never leaks them.
public protocol MetadataStore: Sendable {
    /// The committed manifest of `key`, if any.
    func manifest(for key: String) async throws -> ObjectManifest?
    /// Commits a manifest (replacing any previous one) and returns the replaced one; throws
    /// ``NodeRemoved`` when it names a node removed from the layout. The
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
    /// Every data node known, by id, removed ones included.
    func knownNodes() async throws -> [KnownNode]
    /// Records a node as seen: inserted as `node.membership` (raising the layout version),
    /// or its address, zone and capacity updated — its membership and weight are the
    /// operator's and stay as they are.
    func recordNode(_ node: KnownNode) async throws
    /// The layout's version: raised by every node added and every membership or weight change.
    func layoutVersion() async throws -> Int64
    /// Sets a known node's membership, raising the layout version; returns the node as it is
    /// now. Removing a node also drops the deletions queued for it (it is never contacted
    /// again; should it come back, garbage collection finds what it still holds).
    /// Throws ``LayoutError`` (`.unknownNode`) for an id never recorded.
    func setMembership(_ membership: NodeMembership, of id: String) async throws -> KnownNode
    /// Removes a node from the layout (as ``setMembership(_:of:)`` with `.removed`), refusing
    /// with ``LayoutError`` (`.conflict`) when `ifHoldingNone` and a manifest names a copy on
    /// it — checked in the same transaction, so no commit can slip in between the count and
    /// the removal (a later commit naming it is refused: ``NodeRemoved``).
    func removeNode(_ id: String, ifHoldingNone: Bool) async throws -> KnownNode
    /// Sets a known node's placement weight (`nil`: back to its capacity), raising the layout
    /// version; returns the node as it is now.
    func setWeight(_ weight: Int?, of id: String) async throws -> KnownNode
    /// How many chunk copies the manifests name on each node (nodes naming none are absent).
    func copiesByNode() async throws -> [String: Int]
    /// How many deletions are queued for each node, due or not (nodes with none are absent):
    /// a drained node still holds those copies until they run.
    func deletionsByNode() async throws -> [String: Int]
    /// Renames replicas recorded as `address` (by a build before node ids) to `id`, in
    /// manifests and in the deletion queue, in one transaction; returns the manifests changed.
    func renameReplicas(address: String, to id: String) async throws -> Int
    /// Every bucket, by name. Objects live under `<bucket>/` in the key space.
    func buckets() async throws -> [BucketInfo]
    /// Creates a bucket; `false` when it exists already.
    func createBucket(_ name: String, createdNanoseconds: Int64) async throws -> Bool
    /// Deletes a bucket that holds no object.
    func deleteBucket(_ name: String) async throws -> BucketDeletion
    /// The bucket `name`, if it exists.
    func bucket(_ name: String) async throws -> BucketInfo?
    /// Makes a bucket readable by anyone, or private again; `false` when it does not exist.
    func setBucketPublicRead(_ name: String, _ publicRead: Bool) async throws -> Bool
    /// Records a new multipart upload.
    func createUpload(_ upload: MultipartUpload) async throws
    /// The upload `id`, if it is in progress.
    func upload(_ id: String) async throws -> MultipartUpload?
    /// Uploads in progress whose key starts with `prefix`, by key then id.
    func uploads(prefix: String) async throws -> [MultipartUpload]
    /// Completes upload `id` in one transaction: the listed parts (ascending, each ETag the
    /// part's MD5, each but the last at least `partSizeMin` bytes) become one manifest at the
    /// upload's key — no byte is copied — replacing any object there (whose chunks are queued
    /// for deletion); parts not listed are queued for deletion; the upload ends. `etag` is the
    /// object's (S3's MD5 of the parts' MD5s, `-<count>`: the caller hashes, the store checks
    /// each part's MD5 against the ETag listed). Throws ``MultipartCompletionError``; returns
    /// the new manifest.
    func completeUpload(_ id: String, parts: [(number: Int, etag: String)], partSizeMin: Int, etag: String) async throws -> ObjectManifest
    /// Ends upload `id`, queueing every part's chunks for deletion; `false` when it was not in
    /// progress.
    func abortUpload(_ id: String) async throws -> Bool
    /// Removes a key and returns its manifest, or `nil` when it did not exist.
    func delete(key: String) async throws -> ObjectManifest?
    /// Keys starting with `prefix`, after `startAfter`, in byte order.
    func list(prefix: String, startAfter: String?, limit: Int) async throws -> ObjectListing
    /// Queues chunk copies for deletion (chunks of an upload that never committed).
    func enqueueDeletions(_ copies: [(chunk: ChunkID, node: String)]) async throws
    /// The oldest queued deletions due now, after sequence number `after`.
    func pendingDeletions(after: Int64, limit: Int) async throws -> [PendingDeletion]
    /// Removes finished deletions from the queue.
    func finishDeletions(_ sequences: [Int64]) async throws
    /// Whether a deletion of the copy of `chunk` on `node` is queued.
    func isDeletionQueued(chunk: ChunkID, node: String) async throws -> Bool
    /// Records, before a repair sends it, that a copy of `chunk` (of object `key`) is going
    /// to `node`: if the process dies before ``finishRepair(_:)``, the next start's
    /// ``reclaimRepairs()`` queues the copy for deletion. Survives a process crash (not
    /// necessarily a power loss), like reservations.
    func beginRepair(key: String, chunk: ChunkID, node: String) async throws
    /// Ends a repair, in one transaction. When the object is still the one repaired (same
    /// `createdNanoseconds`) and its chunk still names `lost` and not `added`, the manifest
    /// names `added` in place of `lost` (or, with no `lost`, as one more copy, if the chunk
    /// has no more than `copiesBefore` copies) and the copy on `lost` is queued for deletion (after
    /// the grace, like a replaced object's; not at all when `lostCopyReachable` is false);
    /// returns `true`. When the chunk already names `added`, nothing changes and nothing is
    /// queued. Otherwise — the object was overwritten or deleted meanwhile, or the chunk
    /// already moved — nothing of it changes (it is not resurrected), the new copy on
    /// `added` is queued for deletion, and it returns `false`.
    func finishRepair(_ repair: ChunkRepair) async throws -> Bool
    /// Ends a repair whose copy failed to write: the copy, which may have landed, is queued
    /// for deletion; the manifest is not touched.
    func abandonRepair(chunk: ChunkID, node: String) async throws
    /// For a start-up: each repair left unfinished by a process that died becomes a queued
    /// deletion of its new copy, unless the manifest names that copy. Returns how many.
    func reclaimRepairs() async throws -> Int
    /// Of `chunks` (ids found on one data node, which `nodeNames` are the names of: its id,
    /// and the `host:port` a manifest of a build before node ids may name it by), those
    /// nothing refers to on that node, all read in one transaction: the id is not reserved
    /// (an upload in flight may have sent it to any node), no manifest names the copy, no
    /// deletion of it is queued (a replaced object's copy is kept for its grace, and its
    /// deletion is the deletion worker's), no repair is making it. In the order given. What
    /// garbage collection may delete — each after ``isCopyReferenced(chunk:nodeNames:)``
    /// says no again, under the chunk's lock, since references move after this read.
    /// Manifests are not indexed by chunk: this reads every one.
    func unreferencedChunks(_ chunks: [ChunkID], nodeNames: [String]) async throws -> [ChunkID]
    /// Whether anything refers to the copy of `chunk` on the node `nodeNames` name (as in
    /// ``unreferencedChunks(_:nodeNames:)``): a reservation of the id, a manifest naming the
    /// copy, a queued deletion of it, a repair making it — all read in one transaction, so a
    /// reference that moves meanwhile (a commit ends a reservation and names the copy) is seen
    /// on one side or the other.
    func isCopyReferenced(chunk: ChunkID, nodeNames: [String]) async throws -> Bool
}

/// One chunk copy a repair made: `lost` is replaced by `added` in object `key`'s manifest,
/// or, with no `lost`, `added` joins a chunk that has fewer copies than configured.
public struct ChunkRepair: Sendable, Equatable {
    public var key: String
    public var createdNanoseconds: Int64
    public var chunk: ChunkID
    public var lost: String?
    public var added: String
    /// Whether the lost copy's node may come back (it is down, not gone): only then is the
    /// lost copy queued for deletion.
    public var lostCopyReachable: Bool
    /// With no `lost`: how many copies the chunk had when the repair read it. A chunk that has
    /// more by now got its copy elsewhere, and this one is not added.
    public var copiesBefore: Int = 0

    public init(key: String, createdNanoseconds: Int64, chunk: ChunkID, lost: String?, added: String, lostCopyReachable: Bool = true) {
        self.key = key
        self.createdNanoseconds = createdNanoseconds
        self.chunk = chunk
        self.lost = lost
        self.added = added
        self.lostCopyReachable = lostCopyReachable
    }
}

extension MetadataStore {
    /// The oldest queued deletions due now.
    public func pendingDeletions(limit: Int) async throws -> [PendingDeletion] {
        try await pendingDeletions(after: 0, limit: limit)
    }

    /// Commits a manifest whose upload left no stray copies.
    public func commit(_ manifest: ObjectManifest) async throws -> ObjectManifest? {
        try await commit(manifest, strays: [])
    }
}
