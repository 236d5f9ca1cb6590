import FlareCore
import FlareIO
import Glibc

/// Chunks on one disk directory, used from one event loop (each loop of a data node has
/// its own store object over the same directory, with its own buffers).
///
/// Layout: `chunks/<2 hex>/<id>` for committed chunks, `tmp/` for chunks being written.
/// A write ends with `write → fdatasync → rename(RENAME_NOREPLACE) → fsync(directory)`
/// (``File/commit(_:at:renamingTo:syncing:)``), so a crash leaves no chunk or a whole one,
/// and an id can be committed once only.
///
/// The concerns live in `ChunkStore+Write.swift` (receive and commit), `ChunkStore+Open.swift`
/// (open a committed chunk for reading), `ChunkStore+Delete.swift`, `ChunkStore+List.swift` and
/// `ChunkStore+Quarantine.swift` (a chunk that fails its checks on any read is moved out of
/// `chunks/`, see ``ChunkQuarantine``).
public final class ChunkStore: @unchecked Sendable {
    /// Where chunks live.
    public let directory: String
    /// Whether files are written and read with O_DIRECT (probed at start-up).
    public let usesDirectIO: Bool
    /// The loop the store is used on.
    public let loop: EventLoop
    /// Buffers of one segment plus a footer block.
    public let pool: BufferPool
    let stats: ChunkStoreStats
    /// Where chunks found corrupt go; shared by every loop's store.
    public let quarantine: ChunkQuarantine
    /// Shard directories opened for their `fsync` after a commit, kept open (256 at most).
    var shardDirectories: [String: File] = [:]
    var temporaryCounter: UInt64 = 0
    /// Makes temporary names unique across processes and loops sharing the directory.
    lazy var temporaryPrefix = "\(getpid()).\(ObjectIdentifier(self).hashValue & 0xffff)"

    /// Creates a store over `directory`, prepared by ``DataDirectory/prepare(_:)``.
    public init(directory: String, usesDirectIO: Bool, loop: EventLoop, pool: BufferPool, stats: ChunkStoreStats,
                quarantine: ChunkQuarantine) {
        precondition(pool.bufferBytes >= ChunkFormat.segmentBytes + ChunkFormat.footerBytes, "pool buffers too small")
        self.directory = directory
        self.usesDirectIO = usesDirectIO
        self.loop = loop
        self.pool = pool
        self.stats = stats
        self.quarantine = quarantine
    }

    /// The committed path of a chunk.
    public func path(of id: ChunkID) -> String { "\(directory)/chunks/\(id.shard)/\(id)" }

    /// Whether a chunk is committed (a cheap check before accepting a body; the commit's
    /// rename is what really refuses a second copy). A `statx` on the ring: looking up a
    /// shard directory that is not cached reads the disk, and that must not stall the loop.
    public func exists(_ id: ChunkID) async -> Bool { await FileSystem.exists(path(of: id), on: loop) }

    /// The directory of a shard, opened through the engine on first use (the lookup may
    /// read the disk) and kept for the store's life.
    func shardDirectory(_ shard: String) async throws(IOError) -> File {
        if let directory = shardDirectories[shard] { return directory }
        let opened = try await File.open("\(directory)/chunks/\(shard)", flags: O_RDONLY | O_DIRECTORY, on: loop)
        // Another commit may have opened it meanwhile; keeping the first lets this one close.
        if let first = shardDirectories[shard] { return first }
        shardDirectories[shard] = opened
        return opened
    }
}

/// The two hex digits naming shard `index` (0–255).
func shardName(_ index: Int) -> String {
    let text = String(index, radix: 16)
    return text.count == 1 ? "0" + text : text
}
