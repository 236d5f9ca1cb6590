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
