import FlareTestSupport
import Foundation
import Glibc

/// A directory of its own for one test under /tmp: node data, metadata, payloads, logs.
final class Scratch: Sendable {
    let path: String

    init(_ label: String) throws {
        var template = Array("/tmp/flare-it-\(label)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StartFailure(description: "mkdtemp failed: errno \(errno)")
        }
        path = String(cString: made)
        for sub in ["files", "tmp"] {
            try FileManager.default.createDirectory(atPath: "\(path)/\(sub)", withIntermediateDirectories: true)
        }
    }

    /// Payloads and downloads.
    var files: String { "\(path)/files" }
    /// curl's head and error files.
    var tmp: String { "\(path)/tmp" }

    func remove() {
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            print("note: could not remove \(path): \(error)")
        }
    }
}
