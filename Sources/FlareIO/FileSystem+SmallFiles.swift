import Glibc

/// Small files (state and reason records of a few hundred bytes) read and replaced through
/// the loop's engine, for code that runs on a loop and must not block it on the disk.
extension FileSystem {
    /// Replaces the file at `path` with `bytes`, so that a crash leaves the old contents or
    /// the new, never a mix: written to `<path>.tmp`, `fdatasync`ed, renamed over `path`.
    ///
    /// The rename is durable only once the directory holding `path` is synced
    /// (``syncDirectory(_:on:)``): left to the caller, so that several renames in one
    /// directory share one sync. One writer per `path` at a time (the temporary name is fixed);
    /// a `.tmp` left by a crash is overwritten by the next call.
    public static func replaceContents(of path: String, with bytes: [UInt8], on loop: EventLoop) async throws(IOError) {
        let temporary = path + ".tmp"
        let file = try await File.open(temporary, flags: O_CREAT | O_TRUNC | O_WRONLY, mode: 0o644, on: loop)
        // A copy the kernel may read after this call suspends: Array storage is guaranteed
        // only for the length of a call.
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 16)
        defer { copy.deallocate() }
        copy.copyBytes(from: bytes)
        do {
            if !bytes.isEmpty { try await file.write(UnsafeRawBufferPointer(rebasing: copy[0..<bytes.count]), at: 0) }
            try await file.sync(dataOnly: true)
            try await file.close()
        } catch {
            await closeAfterFailure(file)
            throw error
        }
        try await rename(temporary, to: path, on: loop)
    }

    /// `fsync` of a directory, making the names created, renamed or removed in it durable.
    public static func syncDirectory(_ path: String, on loop: EventLoop) async throws(IOError) {
        let directory = try await File.open(path, flags: O_RDONLY | O_DIRECTORY, on: loop)
        do {
            try await directory.sync(dataOnly: false)
        } catch {
            await closeAfterFailure(directory)
            throw error
        }
        try await directory.close()
    }

    /// The contents of a small file, at most `bytesMax` bytes.
    /// - Throws: ``IOError`` from the open or read; `EFBIG` when the file holds more than
    ///   `bytesMax`, so a caller never parses a truncated record.
    public static func contents(of path: String, bytesMax: Int, on loop: EventLoop) async throws(IOError) -> [UInt8] {
        precondition(bytesMax > 0)
        let file = try await File.open(path, flags: O_RDONLY, on: loop)
        let space = UnsafeMutableRawBufferPointer.allocate(byteCount: bytesMax + 1, alignment: 16)
        defer { space.deallocate() }
        let count: Int
        do {
            count = try await file.read(into: space, at: 0)
        } catch {
            await closeAfterFailure(file)
            throw error
        }
        try await file.close()
        guard count <= bytesMax else { throw IOError(errno: EFBIG, operation: "read \(path): more than \(bytesMax) bytes") }
        return Array(UnsafeRawBufferPointer(rebasing: space[0..<count]))
    }

    /// Closes a file after an operation on it failed: that failure is the one to report, and
    /// a close error adds nothing a caller could act on.
    private static func closeAfterFailure(_ file: File) async {
        do {
            try await file.close()
        } catch {
            return
        }
    }
}
