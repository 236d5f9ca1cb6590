import FlareIO
import FlareTestSupport
import Glibc
import Testing

/// `File.commit`: write → fdatasync → rename without replacing → fsync the directory.
@Suite("File commit: the linked write, sync, rename, directory sync")
struct FileCommitTests {
    /// Bytes of the payload: two blocks, so a short write can stop after the first one and
    /// stay aligned for O_DIRECT.
    static let payloadBytes = 8192
    static let shortWriteBytes = 4096

    /// A scratch directory where a temporary file already holds `head` (one block) and
    /// `payload` is to be committed after it; the directory goes with the scene.
    final class Scene: Sendable {
        let directory = makeTempDirectory()
        let head = TestBytes(count: 4096, seed: 1)
        let payload = TestBytes(count: FileCommitTests.payloadBytes, seed: 2)
        var temporary: String { "\(directory)/tmp-name" }
        var target: String { "\(directory)/final-name" }

        /// What the committed file must hold.
        var expected: [UInt8] { Array(head.bytes) + Array(payload.bytes) }

        deinit { removeTree(directory) }

        /// Runs `body` on a loop of `kind` with the temporary file (O_DIRECT where the file
        /// system allows) and the directory open; closes both and clears the fault injector after.
        func run(_ kind: IOEngineKind, _ body: @escaping @Sendable (EventLoop, Committer) async throws -> Void) async throws {
            try await onLoop(kind) { loop in
                let file = try await File.open(self.temporary, flags: O_CREAT | O_EXCL | O_WRONLY,
                                               direct: FileSystem.supportsDirectIO(in: self.directory), on: loop)
                try await file.write(self.head.bytes, at: 0)
                let directoryFile = try await File.open(self.directory, flags: O_RDONLY | O_DIRECTORY, on: loop)
                try await body(loop, Committer(scene: self, file: file, directoryFile: directoryFile))
                loop.faultInjector = nil
                try await file.close()
                try await directoryFile.close()
            }
        }
    }

    /// The open files of a ``Scene``.
    struct Committer: Sendable {
        let scene: Scene
        let file: File
        let directoryFile: File

        /// The commit under test: the payload after the head, renamed to the target.
        func commit() async throws(File.CommitError) {
            try await file.commit(scene.payload.bytes, at: 4096, renamingTo: scene.target, syncing: directoryFile)
        }

        /// The ``File/CommitError`` the commit throws, or `nil` when it succeeds.
        func commitError() async -> File.CommitError? {
            do {
                try await commit()
                return nil
            } catch {
                return error
            }
        }
    }

    static let existing: [UInt8] = Array("already here".utf8)

    @Test("the chain leaves the whole file under the new name and none under the old", arguments: testedEngines)
    func commits(kind: IOEngineKind) async throws {
        let scene = Scene()
        try await scene.run(kind) { _, committer in try await committer.commit() }
        #expect(fileHolds(scene.target, scene.expected))
        #expect(access(scene.temporary, F_OK) != 0)
    }

    @Test("an existing target is never replaced: alreadyExists at the rename", arguments: testedEngines)
    func refusesToReplace(kind: IOEngineKind) async throws {
        let scene = Scene()
        writeFile(Self.existing, to: scene.target)
        try await scene.run(kind) { _, committer in
            let error = await committer.commitError()
            #expect(error?.step == .rename && error?.error.kind == .alreadyExists, "\(String(describing: error))")
        }
        #expect(fileHolds(scene.target, Self.existing))
        #expect(fileHolds(scene.temporary, scene.expected), "the written file stays under its own name")
    }

    @Test("a short write breaks the chain; the rest is written and committed step by step", arguments: testedEngines)
    func shortWriteFallsBack(kind: IOEngineKind) async throws {
        let scene = Scene()
        try await scene.run(kind) { loop, committer in
            let writes = ShortFirstWrite(loop: loop)
            try await committer.commit()
            #expect(writes.continuations == [FileCommitTests.payloadBytes - FileCommitTests.shortWriteBytes],
                    "the rest went out as its own write")
        }
        #expect(fileHolds(scene.target, scene.expected))
        #expect(access(scene.temporary, F_OK) != 0)
    }

    @Test("after a short write, an existing target is still not replaced", arguments: testedEngines)
    func shortWriteRefusesToReplace(kind: IOEngineKind) async throws {
        let scene = Scene()
        writeFile(Self.existing, to: scene.target)
        try await scene.run(kind) { loop, committer in
            let writes = ShortFirstWrite(loop: loop)
            let error = await committer.commitError()
            #expect(writes.continuations.count == 1, "the step-by-step path ran")
            #expect(error?.step == .rename && error?.error.kind == .alreadyExists, "\(String(describing: error))")
        }
        #expect(fileHolds(scene.target, Self.existing))
        #expect(fileHolds(scene.temporary, scene.expected))
    }

    @Test("a failed directory sync is reported as such, with the file already renamed", arguments: testedEngines)
    func directorySyncFails(kind: IOEngineKind) async throws {
        let scene = Scene()
        try await scene.run(kind) { loop, committer in
            let directoryFD = committer.directoryFile.fd
            loop.faultInjector = { op in
                if case let .fsync(fd, dataOnly) = op, fd == directoryFD, !dataOnly { return -EIO }
                return nil
            }
            let error = await committer.commitError()
            #expect(error?.step == .directorySync && error?.error.errno == EIO, "\(String(describing: error))")
        }
        #expect(fileHolds(scene.target, scene.expected), "the caller decides what to do with the renamed file")
    }

    @Test("after a short write, a failed directory sync is still reported as such", arguments: testedEngines)
    func shortWriteThenDirectorySyncFails(kind: IOEngineKind) async throws {
        let scene = Scene()
        try await scene.run(kind) { loop, committer in
            let writes = ShortFirstWrite(loop: loop, failingDirectorySync: committer.directoryFile.fd)
            let error = await committer.commitError()
            #expect(writes.continuations.count == 1, "the step-by-step path ran")
            #expect(error?.step == .directorySync && error?.error.errno == EIO, "\(String(describing: error))")
        }
        #expect(fileHolds(scene.target, scene.expected))
    }
}

/// Makes the first full-length write of a commit short: it really writes the first
/// `shortWriteBytes` (through `pwrite`, so the file is right) and reports that count. Records
/// the counts of the writes that follow it. With `failingDirectorySync`, an `fsync` of that
/// descriptor fails with EIO.
private final class ShortFirstWrite: @unchecked Sendable {
    private(set) var continuations: [Int] = []

    init(loop: EventLoop, failingDirectorySync directoryFD: Int32? = nil) {
        // The chain asks the injector twice about the same operation; answer alike each time.
        loop.faultInjector = { [self] op in
            if case let .fsync(fd, dataOnly) = op, fd == directoryFD, !dataOnly { return -EIO }
            guard case let .write(fd, buffer, count, offset) = op else { return nil }
            if count == FileCommitTests.payloadBytes {
                return Int32(pwrite(fd, buffer, FileCommitTests.shortWriteBytes, off_t(offset)))
            }
            continuations.append(count)
            return nil
        }
    }
}

/// Whether the file at `path` holds exactly `bytes` (a Bool, so a failure does not print
/// both arrays).
func fileHolds(_ path: String, _ bytes: [UInt8]) -> Bool { contents(of: path) == bytes }

/// A file's bytes, read without the runtime; `nil` when it cannot be opened.
func contents(of path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var block = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = block.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { return bytes }
        bytes += block[0..<count]
    }
}

/// Creates (or truncates) `path` holding `bytes`, without the runtime.
func writeFile(_ bytes: [UInt8], to path: String) {
    let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0o644)
    precondition(fd >= 0, "cannot create \(path)")
    defer { close(fd) }
    let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    precondition(written == bytes.count, "short write to \(path)")
}
