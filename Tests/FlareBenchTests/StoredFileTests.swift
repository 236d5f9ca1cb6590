@testable import FlareBench
import Foundation
import Testing

@Suite("flare-bench: durable and cold reference files")
struct StoredFileTests {
    /// Under the package's build directory (where the tests run from, on a disk): /tmp may be
    /// a tmpfs, whose pages cannot be dropped from a cache they are the only copy in.
    static func scratchFile(_ name: String, bytes: Int) throws -> String {
        let build = FileManager.default.currentDirectoryPath + "/.build"
        let parent = FileManager.default.fileExists(atPath: build) ? build : FileManager.default.temporaryDirectory.path
        let directory = parent + "/flare-storedfile-\(getpid())-\(name)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/object"
        try Data((0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("a written file is synced, then dropped from the page cache, and reading it caches it again")
    func durableThenEvicted() throws {
        let path = try Self.scratchFile("evict", bytes: 4 << 20)
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(try StoredFile.cachedFraction(path) > 0.9, "a file just written is in the page cache")
        let seconds = try StoredFile.makeDurable(path)
        #expect(seconds >= 0)
        #expect(try StoredFile.evictFromPageCache(path) < 0.05)
        _ = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(try StoredFile.cachedFraction(path) > 0.9)
    }

    @Test("a missing file is an error that names it, not a crash")
    func missing() {
        #expect(throws: BenchError.self) { try StoredFile.makeDurable("/nonexistent/flare/object") }
        #expect(throws: BenchError.self) { try StoredFile.evictFromPageCache("/nonexistent/flare/object") }
        #expect(throws: BenchError.self) { try StoredFile.cachedFraction("/nonexistent/flare/object") }
    }
}
