import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What it takes to give a reference server's stored file the guarantees a Flare object has,
/// or to take away the page cache a reference server reads from: nginx's WebDAV PUT returns
/// before a byte is on the disk, and its GET of a file it has just written never touches the
/// disk. These turn its figures into "the same job, durable" and "the same job, from disk".
public enum StoredFile {
    /// `fsync`s `path` and its directory, as a data node does for every chunk; returns the seconds it took.
    public static func makeDurable(_ path: String) throws -> Double {
        let started = ContinuousClock.now
        try syncDescriptor(of: path, flags: O_RDONLY)
        try syncDescriptor(of: (path as NSString).deletingLastPathComponent, flags: O_RDONLY | O_DIRECTORY)
        return elapsedSeconds(since: started)
    }

    /// Drops `path`'s pages from the page cache (they must be clean: call ``makeDurable(_:)``
    /// first); returns the fraction of its pages still cached afterwards (0 when all went).
    @discardableResult
    public static func evictFromPageCache(_ path: String) throws -> Double {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BenchError("cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        let status = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        guard status == 0 else { throw BenchError("posix_fadvise(DONTNEED) on \(path): error \(status)") }
        return try cachedFraction(fd: fd, path: path)
    }

    /// The fraction of `path`'s pages in the page cache (mincore over a read-only mapping).
    public static func cachedFraction(_ path: String) throws -> Double {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BenchError("cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        return try cachedFraction(fd: fd, path: path)
    }

    private static func cachedFraction(fd: Int32, path: String) throws -> Double {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw BenchError("cannot stat \(path): errno \(errno)") }
        let size = Int(info.st_size)
        guard size > 0 else { return 0 }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), mapping != MAP_FAILED else {
            throw BenchError("cannot map \(path): errno \(errno)")
        }
        defer { munmap(mapping, size) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (size + pageSize - 1) / pageSize
        var residency = [UInt8](repeating: 0, count: pages)
        guard mincore(mapping, size, &residency) == 0 else { throw BenchError("mincore on \(path): errno \(errno)") }
        return Double(residency.filter { $0 & 1 != 0 }.count) / Double(pages)
    }

    private static func syncDescriptor(of path: String, flags: Int32) throws {
        let fd = open(path, flags | O_CLOEXEC)
        guard fd >= 0 else { throw BenchError("cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw BenchError("fsync \(path): errno \(errno)") }
    }
}
