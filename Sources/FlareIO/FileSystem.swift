import CLiburing
import Glibc

/// Directory operations on the loop's engine, and the O_DIRECT probe.
public enum FileSystem {
    /// Renames `from` to `to`, replacing `to` atomically (or, with `noReplace`, failing with
    /// `EEXIST` when `to` exists).
    public static func rename(_ from: String, to: String, noReplace: Bool = false, on loop: EventLoop) async throws(IOError) {
        let flags = noReplace ? IOOperation.renameNoReplace : 0
        let result = await withPinnedPath(from) { old in
            await withPinnedPath(to) { new in
                await loop.perform(.renameat(oldDirfd: flare_AT_FDCWD, oldPath: old, newDirfd: flare_AT_FDCWD, newPath: new, flags: flags))
            }
        }
        if result < 0 { throw IOError(errno: -result, operation: "rename \(from) to \(to)") }
    }

    /// Removes a file.
    public static func unlink(_ path: String, on loop: EventLoop) async throws(IOError) {
        let result = await withPinnedPath(path) { await loop.perform(.unlinkat(dirfd: flare_AT_FDCWD, path: $0, flags: 0)) }
        if result < 0 { throw IOError(errno: -result, operation: "unlink \(path)") }
    }

    /// Creates a directory; an existing one is fine.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o755, on loop: EventLoop) async throws(IOError) {
        let result = await withPinnedPath(path) { await loop.perform(.mkdirat(dirfd: flare_AT_FDCWD, path: $0, mode: mode)) }
        if result < 0 && result != -EEXIST { throw IOError(errno: -result, operation: "mkdir \(path)") }
    }

    /// Creates a directory and its parents synchronously (start-up only).
    public static func makeDirectories(_ path: String) throws(IOError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && Glibc.errno != EEXIST {
                throw IOError(errno: Glibc.errno, operation: "mkdir \(current)")
            }
        }
    }

    /// Whether files in `directory` accept O_DIRECT (tmpfs and some overlay setups refuse it
    /// with EINVAL). Probed once at start-up with a throwaway file.
    public static func supportsDirectIO(in directory: String) -> Bool {
        let probe = "\(directory)/.flare-odirect-probe-\(getpid())"
        let fd = Glibc.open(probe, O_CREAT | O_RDWR | O_CLOEXEC | flare_O_DIRECT, 0o600)
        guard fd >= 0 else { return false }
        defer {
            Glibc.close(fd)
            Glibc.unlink(probe)
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, File.directAlignmentBytes, File.directAlignmentBytes) == 0, let raw else { return false }
        defer { free(raw) }
        memset(raw, 0, File.directAlignmentBytes)
        return pwrite(fd, raw, File.directAlignmentBytes, 0) == File.directAlignmentBytes
    }

    /// Whether `path` exists (a `statx` on the loop's engine, so a directory lookup that
    /// has to go to disk never stalls the loop thread). Errors other than "not found" count
    /// as existing: the caller then goes on and meets them where it can report them.
    public static func exists(_ path: String, on loop: EventLoop) async -> Bool {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Int(flare_statx_bytes), alignment: 8)
        defer { buffer.deallocate() }
        let result = await withPinnedPath(path) {
            await loop.perform(.statx(dirfd: flare_AT_FDCWD, path: $0, flags: 0, mask: 0, buffer: buffer))
        }
        return result != -ENOENT && result != -ENOTDIR
    }

    /// The size in bytes of the file at `path` (a `statx` on the loop's engine, for the same
    /// reason as ``exists(_:on:)``).
    public static func size(of path: String, on loop: EventLoop) async throws(IOError) -> Int {
        let buffer = UnsafeMutablePointer<statx>.allocate(capacity: 1)
        defer { buffer.deallocate() }
        let result = await withPinnedPath(path) {
            await loop.perform(.statx(dirfd: flare_AT_FDCWD, path: $0, flags: 0, mask: STATX_SIZE, buffer: buffer))
        }
        if result < 0 { throw IOError(errno: -result, operation: "stat \(path)") }
        return Int(buffer.pointee.stx_size)
    }

    /// The names in a directory except `.` and `..`, in no particular order; blocks (for
    /// start-up, or on a pool thread: see ``names(in:on:)``).
    public static func names(in path: String) throws(IOError) -> [String] {
        guard let directory = opendir(path) else { throw IOError(errno: Glibc.errno, operation: "opendir \(path)") }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            // readdir reports an error only through errno, with the same nil as at the end.
            Glibc.errno = 0
            guard let entry = readdir(directory) else {
                if Glibc.errno != 0 { throw IOError(errno: Glibc.errno, operation: "readdir \(path)") }
                return names
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    /// ``names(in:)`` on the blocking pool: neither engine can read a directory, and a
    /// directory that is not cached is read from disk.
    public static func names(in path: String, on loop: EventLoop) async throws(IOError) -> [String] {
        try await loop.runBlocking { () throws(IOError) in try names(in: path) }
    }

    /// Bytes an unprivileged writer can still use on the file system holding `path`
    /// (`statvfs` on the blocking pool: it can wait for the file system, e.g. over NFS).
    public static func availableBytes(in path: String, on loop: EventLoop) async throws(IOError) -> Int {
        try await loop.runBlocking { () throws(IOError) in
            var info = statvfs()
            guard statvfs(path, &info) == 0 else { throw IOError(errno: Glibc.errno, operation: "statvfs \(path)") }
            return Int(info.f_bavail) * Int(info.f_frsize)
        }
    }

    /// The size in bytes of the file system holding `path` (`statvfs`: `f_blocks × f_frsize`);
    /// blocks (for start-up).
    public static func totalBytes(in path: String) throws(IOError) -> Int {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { throw IOError(errno: Glibc.errno, operation: "statvfs \(path)") }
        return Int(info.f_blocks) * Int(info.f_frsize)
    }

    /// Runs `body` with a C copy of `path` that stays valid across suspension points (the
    /// kernel may read it after the submitting call returns).
    public static func withPinnedPath<T>(_ path: String, _ body: (UnsafePointer<CChar>) async -> T) async -> T {
        let copy = strdup(path)!
        defer { free(copy) }
        return await body(copy)
    }
}
