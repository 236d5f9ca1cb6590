import FlareCore
import FlareIO
import Glibc

/// Start-up work on a data directory: create the tree, clear what a crash left in `tmp/`,
/// and count what is stored.
public enum DataDirectory {
    /// What start-up found.
    public struct Report: Sendable {
        public var removedTemporaryFiles: Int
        public var chunkCount: Int
        public var bytesStored: Int
        public var usesDirectIO: Bool
    }

    /// Creates `chunks/00…ff` and `tmp/`, empties `tmp/`, counts chunks, probes O_DIRECT.
    public static func prepare(_ directory: String) throws(IOError) -> Report {
        try FileSystem.makeDirectories("\(directory)/tmp")
        for shard in 0..<256 { try FileSystem.makeDirectories("\(directory)/chunks/\(shardName(shard))") }
        var removed = 0
        for name in DirectoryListing.names(in: "\(directory)/tmp") {
            // Anything here is a write that never got its rename: by design not a chunk.
            if unlink("\(directory)/tmp/\(name)") == 0 { removed += 1 }
        }
        if removed > 0 { fsyncDirectory("\(directory)/tmp") }
        var count = 0
        var bytes = 0
        for shard in 0..<256 {
            let path = "\(directory)/chunks/\(shardName(shard))"
            for name in DirectoryListing.names(in: path) where ChunkID(name) != nil {
                count += 1
                bytes += DirectoryListing.fileSize("\(path)/\(name)") ?? 0
            }
        }
        return Report(removedTemporaryFiles: removed, chunkCount: count, bytesStored: bytes,
                      usesDirectIO: FileSystem.supportsDirectIO(in: "\(directory)/tmp"))
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
