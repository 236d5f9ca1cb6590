import FlareCore
import FlareIO
import Glibc

/// Start-up work on a data directory: create the tree, clear what a crash left in `tmp/`,
/// and count what is stored.
public enum DataDirectory {
    /// What start-up found.
    public struct Report: Sendable {
        public var removedTemporaryFiles: Int
        /// `tmp/` names left in place: each is a committed chunk under a second name (see
        /// ``TemporaryEntry/keep``). The file system needs a check (fsck).
        public var keptTemporaryFiles: [String] = []
        public var chunkCount: Int
        public var bytesStored: Int
        public var usesDirectIO: Bool
    }

    /// What start-up does with a name it finds in `tmp/`.
    public enum TemporaryEntry: Equatable, Sendable {
        /// A write that never got its rename: by design not a chunk.
        case remove
        /// The very file committed under `chunks/`, with one link counted for the two names.
        /// A rename writes the new name and drops the old one in two directory blocks; on a
        /// file system without a journal (ext4 without one, as on some VMs) a crash between
        /// their write-backs leaves both names and a link count of 1. Unlinking the `tmp/`
        /// name would then free the inode of a chunk that was acknowledged. fsck repairs the
        /// count; after that the name is an ordinary second link, and goes.
        case keep

        /// The decision for a `tmp/` entry, given its `lstat` and that of the committed
        /// chunk with the id its name starts with (if there is one).
        public static func decide(temporary: stat, committed: stat?) -> TemporaryEntry {
            guard let committed, committed.st_dev == temporary.st_dev, committed.st_ino == temporary.st_ino else {
                return .remove
            }
            return temporary.st_nlink < 2 ? .keep : .remove
        }
    }

    /// Creates `chunks/00…ff` and `tmp/`, empties `tmp/` (but see ``TemporaryEntry/keep``),
    /// counts chunks, probes O_DIRECT.
    public static func prepare(_ directory: String) throws(IOError) -> Report {
        try FileSystem.makeDirectories("\(directory)/tmp")
        for shard in 0..<256 { try FileSystem.makeDirectories("\(directory)/chunks/\(shardName(shard))") }
        var removed = 0
        var kept: [String] = []
        for name in try FileSystem.names(in: "\(directory)/tmp") {
            let path = "\(directory)/tmp/\(name)"
            var temporary = stat()
            guard lstat(path, &temporary) == 0 else { continue }
            // Temporary names are `<chunk id>.<writer>.<counter>`.
            var committed = stat()
            let hasCommitted = ChunkID(String(name.prefix(32))).map { id in
                lstat("\(directory)/chunks/\(id.shard)/\(id)", &committed) == 0
            } ?? false
            switch TemporaryEntry.decide(temporary: temporary, committed: hasCommitted ? committed : nil) {
            case .remove:
                if unlink(path) == 0 { removed += 1 }
            case .keep:
                kept.append(name)
            }
        }
        if removed > 0 { fsyncDirectory("\(directory)/tmp") }
        var count = 0
        var bytes = 0
        for shard in 0..<256 {
            let path = "\(directory)/chunks/\(shardName(shard))"
            for name in try FileSystem.names(in: path) where ChunkID(name) != nil {
                count += 1
                bytes += fileSize("\(path)/\(name)") ?? 0
            }
        }
        return Report(removedTemporaryFiles: removed, keptTemporaryFiles: kept, chunkCount: count, bytesStored: bytes,
                      usesDirectIO: FileSystem.supportsDirectIO(in: "\(directory)/tmp"))
    }

    /// The size of a file, or `nil` when it cannot be stat'ed (gone since the listing).
    private static func fileSize(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    private static func fsyncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

/// A data directory claimed by one data node: an exclusive flock on `<dir>/datanode.lock`,
/// held until this object goes (or the process dies, kill -9 included).
///
/// Start-up empties `tmp/`: a second node on the same directory would delete the first
/// one's chunks while they are being written, and each would count and report the other's
/// chunks as its own.
public final class DataDirectoryLock: Sendable {
    private let lock: ExclusiveFileLock
    public var path: String { lock.path }

    /// Creates the directory if needed and takes its lock; throws ``DataDirectoryInUse``
    /// when another node (or another lock in this process) holds it.
    public init(_ directory: String, patienceSeconds: Double = 2) throws {
        try FileSystem.makeDirectories(directory)
        guard let lock = try ExclusiveFileLock(path: "\(directory)/datanode.lock", patienceSeconds: patienceSeconds) else {
            throw DataDirectoryInUse(directory: directory)
        }
        self.lock = lock
    }
}

/// The data directory is claimed by another data node.
public struct DataDirectoryInUse: Error, CustomStringConvertible {
    public let directory: String
    public var description: String {
        "data directory \(directory) is in use by another datanode (it holds \(directory)/datanode.lock); give each datanode its own --data-dir"
    }
}
