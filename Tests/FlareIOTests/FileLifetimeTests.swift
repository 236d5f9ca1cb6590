import FlareIO
import FlareTestSupport
import Glibc
import Testing

@Suite("File lifetime")
struct FileLifetimeTests {
    @Test("a file that outlives its loop still closes its descriptor when it goes", arguments: testedEngines)
    func outlivesLoop(kind: IOEngineKind) async throws {
        try skipIfUnavailable(kind)
        let directory = makeTempDirectory()
        defer { removeTree(directory) }
        let path = "\(directory)/kept-open"
        let loop = try EventLoop.start(engine: kind, name: "lifetime-\(kind)")
        var file: File? = try await loop.run { try await File.open(path, flags: O_CREAT | O_WRONLY, on: loop) }
        let fd = file!.fd
        #expect(openedPath(fd) == path)
        loop.shutdown()
        file = nil
        // Another test may reuse the number at once; it must not be this file any more.
        #expect(openedPath(fd) != path, "descriptor \(fd) leaked")
    }
}

/// What `/proc/self/fd/<fd>` points at, or `nil` for a closed descriptor.
private func openedPath(_ fd: Int32) -> String? {
    var target = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/fd/\(fd)", &target, target.count - 1)
    guard count > 0 else { return nil }
    return String(decoding: target[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
