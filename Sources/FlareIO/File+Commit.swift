import CLiburing
import Glibc

/// The durable commit of a file written under a temporary name: write the last bytes,
/// `fdatasync`, rename into place without replacing anything, `fsync` the directory.
extension File {
    /// The step of ``commit(_:at:renamingTo:syncing:)`` that failed.
    public enum CommitStep: Sendable, Equatable {
        /// Writing the last bytes. Nothing was renamed.
        case write
        /// `fdatasync` of the file. Nothing was renamed.
        case dataSync
        /// The rename. With ``IOError/Kind/alreadyExists`` the target existed and is untouched;
        /// the file is still under its own name.
        case rename
        /// `fsync` of the target's directory. The file *is* under the target name now, but the
        /// name may not survive a crash: a caller that reports the failure should remove it.
        case directorySync
    }

    /// A failed ``commit(_:at:renamingTo:syncing:)``: which step, and its error.
    public struct CommitError: Error, CustomStringConvertible, Sendable {
        public let step: CommitStep
        public let error: IOError

        public init(step: CommitStep, error: IOError) {
            self.step = step
            self.error = error
        }

        public var description: String { "\(error)" }
    }

    /// Makes this file durable under `target`: writes `bytes` at `offset`, `fdatasync`s,
    /// renames ``path`` to `target` only if `target` does not exist (`RENAME_NOREPLACE`), and
    /// `fsync`s `directory`, the directory holding `target`, so the new name survives a crash.
    ///
    /// The four steps go to the engine as one linked chain (one submit, one wait); each runs
    /// only if the one before succeeded in full. A short write breaks the chain: the rest of
    /// the bytes are then written and the remaining steps done one at a time, with the same
    /// outcome. Either way a crash leaves the file under its old name or whole under the new.
    ///
    /// - Parameters:
    ///   - bytes: not empty; with O_DIRECT aligned like every transfer of this file (checked).
    ///   - directory: a file opened on `target`'s directory (`O_RDONLY | O_DIRECTORY`).
    /// - Throws: ``CommitError`` naming the step that failed; see ``CommitStep`` for what
    ///   each leaves on disk.
    public func commit(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, renamingTo target: String,
                       syncing directory: File) async throws(CommitError) {
        precondition(!bytes.isEmpty && bytes.count <= Int(Int32.max), "commit of \(bytes.count) bytes")
        checkAlignment(bytes.baseAddress!, bytes.count, offset)
        let results = await FileSystem.withPinnedPath(path) { from in
            await FileSystem.withPinnedPath(target) { to in
                await loop.performChain([
                    .write(fd: fd, buffer: bytes.baseAddress!, count: bytes.count, offset: offset),
                    .fsync(fd: fd, dataOnly: true),
                    .renameat(oldDirfd: flare_AT_FDCWD, oldPath: from, newDirfd: flare_AT_FDCWD, newPath: to,
                              flags: IOOperation.renameNoReplace),
                    .fsync(fd: directory.fd, dataOnly: false),
                ])
            }
        }
        if results[0] >= 0 && Int(results[0]) < bytes.count {
            try await commitStepByStep(bytes, at: offset, written: Int(results[0]), renamingTo: target, syncing: directory)
            return
        }
        try Self.check(results[0], .write, "write \(path) at \(offset)")
        try Self.check(results[1], .dataSync, "fdatasync \(path)")
        try Self.check(results[2], .rename, "rename \(path) to \(target)")
        try Self.check(results[3], .directorySync, "fsync \(directory.path)")
    }

    /// The rest of a commit whose chain a short write broke after `written` bytes.
    private func commitStepByStep(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, written: Int, renamingTo target: String,
                                  syncing directory: File) async throws(CommitError) {
        do {
            try await write(UnsafeRawBufferPointer(rebasing: bytes[written...]), at: offset + UInt64(written))
        } catch {
            throw CommitError(step: .write, error: error)
        }
        do {
            try await sync(dataOnly: true)
        } catch {
            throw CommitError(step: .dataSync, error: error)
        }
        do {
            try await FileSystem.rename(path, to: target, noReplace: true, on: loop)
        } catch {
            throw CommitError(step: .rename, error: error)
        }
        do {
            try await directory.sync(dataOnly: false)
        } catch {
            throw CommitError(step: .directorySync, error: error)
        }
    }

    private static func check(_ result: Int32, _ step: CommitStep, _ operation: @autoclosure () -> String) throws(CommitError) {
        if result < 0 { throw CommitError(step: step, error: IOError(errno: -result, operation: operation())) }
    }
}
