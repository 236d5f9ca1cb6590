import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Glibc

/// `count` random bytes from /dev/urandom.
func randomBytes(_ count: Int) -> Data {
    var data = Data(count: count)
    let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
    precondition(fd >= 0, "cannot open /dev/urandom")
    defer { close(fd) }
    data.withUnsafeMutableBytes { raw in
        var done = 0
        while done < count {
            let got = read(fd, raw.baseAddress! + done, count - done)
            precondition(got > 0 || (got < 0 && Glibc.errno == EINTR), "reading /dev/urandom failed")
            if got > 0 { done += got }
        }
    }
    return data
}

/// A payload on disk with its CRC32C.
struct Payload {
    let path: String
    let data: Data
    var crc: UInt32 { data.withUnsafeBytes { CRC32C.checksum($0) } }
    var checksumHeader: String { "X-Flare-Checksum: " + CRC32C.headerValue(crc) }

    /// Random bytes written to `<directory>/<name>`.
    static func random(_ count: Int, in directory: String, name: String = UUID().uuidString) throws -> Payload {
        let payload = Payload(path: "\(directory)/\(name)", data: randomBytes(count))
        try payload.data.write(to: URL(fileURLWithPath: payload.path))
        return payload
    }

    func remove() { unlink(path) }
}

/// Names of the entries of a directory (none when it cannot be read).
func entries(_ path: String) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
}

/// Every file under `<data>/chunks/*/`, as `shard/name`.
func chunkFiles(_ dataDirectory: String) -> [String] {
    entries("\(dataDirectory)/chunks").sorted().flatMap { shard in entries("\(dataDirectory)/chunks/\(shard)").map { "\(shard)/\($0)" } }
}

/// Inverts the bits of the byte at `offset` of a file, as bit rot would, and syncs it.
func flipByte(_ path: String, at offset: Int) throws {
    let fd = open(path, O_RDWR)
    guard fd >= 0 else { throw IOError(errno: Glibc.errno, operation: "open \(path)") }
    defer { close(fd) }
    var byte: UInt8 = 0
    guard pread(fd, &byte, 1, off_t(offset)) == 1 else { throw IOError(errno: Glibc.errno, operation: "pread \(path)") }
    byte ^= 0xff
    guard pwrite(fd, &byte, 1, off_t(offset)) == 1 else { throw IOError(errno: Glibc.errno, operation: "pwrite \(path)") }
    guard fsync(fd) == 0 else { throw IOError(errno: Glibc.errno, operation: "fsync \(path)") }
}
