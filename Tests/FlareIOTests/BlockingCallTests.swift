import FlareIO
import FlareTestSupport
import Glibc
import Testing

/// Calls the engines cannot submit, run on the blocking pool; and the `statx` size.
@Suite("Blocking calls off the loop thread")
struct BlockingCallTests {
    @Test("runBlocking runs the work off the loop and resumes the caller on it", arguments: testedEngines)
    func hopsOffAndBack(kind: IOEngineKind) async throws {
        try await onLoop(kind) { loop in
            let ranOnLoop = await loop.runBlocking { loop.inLoop }
            #expect(!ranOnLoop)
            #expect(loop.inLoop)
            let error = await ioError {
                _ = try await loop.runBlocking { () throws(IOError) -> Int in throw IOError(errno: EIO, operation: "probe") }
            }
            #expect(error == IOError(errno: EIO, operation: "probe"))
            #expect(loop.inLoop)
        }
    }

    @Test("names lists a directory on the pool; a missing one is notFound", arguments: testedEngines)
    func names(kind: IOEngineKind) async throws {
        let directory = makeTempDirectory()
        defer { removeTree(directory) }
        writeFile([1], to: "\(directory)/a")
        writeFile([], to: "\(directory)/b")
        #expect(mkdir("\(directory)/sub", 0o755) == 0)
        try await onLoop(kind) { loop in
            let names = try await FileSystem.names(in: directory, on: loop)
            #expect(names.sorted() == ["a", "b", "sub"])
            let empty = try await FileSystem.names(in: "\(directory)/sub", on: loop)
            #expect(empty.isEmpty)
            let missing = await ioError { _ = try await FileSystem.names(in: "\(directory)/missing", on: loop) }
            #expect(missing?.kind == .notFound)
            let notDirectory = await ioError { _ = try await FileSystem.names(in: "\(directory)/a", on: loop) }
            #expect(notDirectory?.errno == ENOTDIR)
        }
    }

    @Test("size is the file's length; a missing file is notFound", arguments: testedEngines)
    func size(kind: IOEngineKind) async throws {
        let directory = makeTempDirectory()
        defer { removeTree(directory) }
        writeFile([UInt8](repeating: 7, count: 5000), to: "\(directory)/f")
        try await onLoop(kind) { loop in
            let size = try await FileSystem.size(of: "\(directory)/f", on: loop)
            #expect(size == 5000)
            let missing = await ioError { _ = try await FileSystem.size(of: "\(directory)/missing", on: loop) }
            #expect(missing?.kind == .notFound)
        }
    }

    @Test("availableBytes agrees with statvfs; a missing path is notFound", arguments: testedEngines)
    func availableBytes(kind: IOEngineKind) async throws {
        let directory = makeTempDirectory()
        defer { removeTree(directory) }
        try await onLoop(kind) { loop in
            let available = try await FileSystem.availableBytes(in: directory, on: loop)
            var info = statvfs()
            #expect(statvfs(directory, &info) == 0)
            // Other tests write meanwhile: the two readings agree within a gigabyte.
            #expect(abs(available - Int(info.f_bavail) * Int(info.f_frsize)) < 1 << 30)
            #expect(available > 0)
            let missing = await ioError { _ = try await FileSystem.availableBytes(in: "\(directory)/missing", on: loop) }
            #expect(missing?.kind == .notFound)
        }
    }
}
