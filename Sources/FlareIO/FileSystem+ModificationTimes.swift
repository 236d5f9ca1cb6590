import Glibc

/// Directory entries with their ages, for a garbage collector that must tell a file written
/// a moment ago from one left long ago.
extension FileSystem {
    /// The names in a directory (except `.` and `..`), each with its modification time in
    /// nanoseconds since the Unix epoch by this machine's clock, in no particular order;
    /// blocks (see ``namesWithModificationTimes(in:on:)``). An entry removed between the read
    /// of the directory and its `stat` is left out: it is no longer there to report.
    public static func namesWithModificationTimes(in path: String) throws(IOError) -> [(name: String, modifiedNanoseconds: Int64)] {
        guard let directory = opendir(path) else { throw IOError(errno: Glibc.errno, operation: "opendir \(path)") }
        defer { closedir(directory) }
        let descriptor = dirfd(directory)
        var entries: [(name: String, modifiedNanoseconds: Int64)] = []
        while true {
            // readdir reports an error only through errno, with the same nil as at the end.
            Glibc.errno = 0
            guard let entry = readdir(directory) else {
                if Glibc.errno != 0 { throw IOError(errno: Glibc.errno, operation: "readdir \(path)") }
                return entries
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            var info = stat()
            guard fstatat(descriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                if Glibc.errno == ENOENT { continue }
                throw IOError(errno: Glibc.errno, operation: "stat \(path)/\(name)")
            }
            entries.append((name, Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)))
        }
    }

    /// ``namesWithModificationTimes(in:)`` on the blocking pool: neither engine can read a
    /// directory, and a `stat` per entry of a directory not cached reads the disk.
    public static func namesWithModificationTimes(in path: String, on loop: EventLoop) async throws(IOError)
        -> [(name: String, modifiedNanoseconds: Int64)] {
        try await loop.runBlocking { () throws(IOError) in try namesWithModificationTimes(in: path) }
    }
}
