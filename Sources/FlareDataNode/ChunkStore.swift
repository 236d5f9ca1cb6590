import FlareCore
import FlareIO
import Glibc

/// Chunks on one disk directory, used from one event loop (each loop of a data node has
/// its own store object over the same directory, with its own buffers).
///
/// Layout: `chunks/<2 hex>/<id>` for committed chunks, `tmp/` for chunks being written.
/// A write is `write → fdatasync → rename(RENAME_NOREPLACE) → fsync(directory)`, submitted
/// as one linked chain, so a crash leaves no chunk or a whole one, and an id can be
/// committed once only.
///
/// The concerns live in `ChunkStore+Write.swift` (receive and commit), `ChunkStore+Open.swift`
/// (open a committed chunk for reading), `ChunkStore+Delete.swift` and `ChunkStore+List.swift`.
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
    var shardDirectories: [String: Int32] = [:]
    var temporaryCounter: UInt64 = 0
    /// Makes temporary names unique across processes and loops sharing the directory.
    lazy var temporaryPrefix = "\(getpid()).\(ObjectIdentifier(self).hashValue & 0xffff)"

    /// Creates a store over `directory`, prepared by ``DataDirectory/prepare(_:)``.
    public init(directory: String, usesDirectIO: Bool, loop: EventLoop, pool: BufferPool, stats: ChunkStoreStats) {
        precondition(pool.bufferBytes >= ChunkFormat.segmentBytes + ChunkFormat.footerBytes, "pool buffers too small")
        self.directory = directory
        self.usesDirectIO = usesDirectIO
        self.loop = loop
        self.pool = pool
        self.stats = stats
    }

    deinit {
        for fd in shardDirectories.values { Glibc.close(fd) }
    }

    /// The committed path of a chunk.
    public func path(of id: ChunkID) -> String { "\(directory)/chunks/\(id.shard)/\(id)" }

    /// Whether a chunk is committed (a cheap check before accepting a body; the commit's
    /// rename is what really refuses a second copy). A `statx` on the ring: looking up a
    /// shard directory that is not cached reads the disk, and that must not stall the loop.
    public func exists(_ id: ChunkID) async -> Bool { await FileSystem.exists(path(of: id), on: loop) }

    func shardDirectory(_ shard: String) throws(IOError) -> Int32 {
        if let fd = shardDirectories[shard] { return fd }
        let path = "\(directory)/chunks/\(shard)"
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw IOError(errno: Glibc.errno, operation: "open \(path)") }
        shardDirectories[shard] = fd
        return fd
    }
}

/// The two hex digits naming shard `index` (0–255).
func shardName(_ index: Int) -> String {
    let text = String(index, radix: 16)
    return text.count == 1 ? "0" + text : text
}
