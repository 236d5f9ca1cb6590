import FlareCore
import FlareIO
import Glibc

/// The node's persistent id, in `<data-dir>/node-id`: 32 lowercase hex characters and a
/// newline, created on the first start over a directory and read back on every later one.
///
/// The id is what the api nodes record in manifests: a node that came back under a new id
/// would look like a new, empty node, and every chunk it holds like a lost one. So a file
/// that is there but cannot be read, or does not hold an id, stops the start
/// (``NodeIdentityError``); it is never replaced. Synchronous: start-up only, before the
/// loops run (like ``DataDirectory/prepare(_:)``).
public enum NodeIdentity {
    /// The file's name inside the data directory.
    public static let fileName = "node-id"
    /// More than an id, a newline and some slack is not an id file: read no further.
    static let fileBytesMax = 256

    /// `<directory>/node-id`.
    public static func path(in directory: String) -> String { "\(directory)/\(fileName)" }

    /// The id stored in `directory`, or `nil` when there is no `node-id` file yet.
    /// - Throws: ``NodeIdentityError/unreadable(path:error:)`` or
    ///   ``NodeIdentityError/malformed(path:found:)``.
    public static func read(in directory: String) throws(NodeIdentityError) -> NodeID? {
        let path = path(in: directory)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let error = IOError(errno: Glibc.errno, operation: "open \(path)")
            // Only a name that is not there at all is a first start; a dangling symlink is not.
            var info = stat()
            if error.errno == ENOENT && lstat(path, &info) != 0 && Glibc.errno == ENOENT { return nil }
            throw .unreadable(path: path, error: error)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: fileBytesMax + 1)
        while bytes.count <= fileBytesMax {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if Glibc.errno == EINTR { continue }
                throw .unreadable(path: path, error: IOError(errno: Glibc.errno, operation: "read \(path)"))
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        guard bytes.count <= fileBytesMax, let id = NodeID(text) else {
            throw .malformed(path: path, found: bytes)
        }
        return id
    }

    /// Creates a fresh random id in `directory`, durably: written to `node-id.tmp`, fsynced,
    /// renamed to `node-id`, and the directory fsynced, so a crash leaves no file (the next
    /// start makes another id, nothing having been told the first) or the whole one.
    /// The caller holds the directory's lock, so no other node writes the name meanwhile.
    public static func create(in directory: String) throws(NodeIdentityError) -> NodeID {
        let id = NodeID.random()
        let target = path(in: directory)
        let temporary = target + ".tmp"
        do throws(IOError) {
            try writeSynced(Array("\(id)\n".utf8), to: temporary)
            if rename(temporary, target) != 0 { throw IOError(errno: Glibc.errno, operation: "rename \(temporary) to \(target)") }
            try syncDirectory(directory)
        } catch {
            throw .unwritable(path: target, error: error)
        }
        return id
    }

    /// Replaces `path` (a leftover of a crash during an earlier ``create(in:)``) with `bytes`
    /// and fsyncs it.
    private static func writeSynced(_ bytes: [UInt8], to path: String) throws(IOError) {
        if unlink(path) != 0 && Glibc.errno != ENOENT { throw IOError(errno: Glibc.errno, operation: "unlink \(path)") }
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
        if fd < 0 { throw IOError(errno: Glibc.errno, operation: "create \(path)") }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if Glibc.errno == EINTR { continue }
                let error = IOError(errno: Glibc.errno, operation: "write \(path)")
                close(fd)
                throw error
            }
            written += count
        }
        if fsync(fd) != 0 {
            let error = IOError(errno: Glibc.errno, operation: "fsync \(path)")
            close(fd)
            throw error
        }
        if close(fd) != 0 { throw IOError(errno: Glibc.errno, operation: "close \(path)") }
    }

    private static func syncDirectory(_ path: String) throws(IOError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw IOError(errno: Glibc.errno, operation: "open \(path)") }
        defer { close(fd) }
        if fsync(fd) != 0 { throw IOError(errno: Glibc.errno, operation: "fsync \(path)") }
    }
}

/// Why a data node cannot establish its id; it refuses to start rather than take a new one.
public enum NodeIdentityError: Error, CustomStringConvertible, Equatable {
    /// `node-id` exists but cannot be read (permissions, I/O error, a dangling symlink).
    case unreadable(path: String, error: IOError)
    /// `node-id` does not hold one id of 32 lowercase hex characters (and a newline).
    case malformed(path: String, found: [UInt8])
    /// A first start could not write `node-id` durably.
    case unwritable(path: String, error: IOError)

    private static let consequence = "a new id would make the api nodes take this node's chunks for lost"

    public var description: String {
        switch self {
        case .unreadable(let path, let error):
            return "cannot read the node id in \(path) (\(error)); refusing to start, since \(Self.consequence): fix the file's access or restore it"
        case .malformed(let path, let found):
            let shown = String(decoding: found.prefix(64), as: UTF8.self).debugDescription
            return "\(path) is malformed: it must hold one node id of 32 lowercase hex characters, and holds \(found.count) bytes \(shown)\(found.count > 64 ? "…" : ""); refusing to start, since \(Self.consequence): restore the file (its id is in the api's node table), or remove it only if this directory is to join as a new node"
        case .unwritable(let path, let error):
            return "cannot create the node id \(path) (\(error))"
        }
    }
}
