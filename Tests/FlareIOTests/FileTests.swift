import FlareIO
import FlareTestSupport
import Glibc
import Testing

func makeTempDirectory() -> String {
    var template = Array("/tmp/flare-test-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
}

func removeTree(_ path: String) {
    _ = path.withCString { _ in system("rm -rf '\(path)'") }
}

@Suite("Files: O_DIRECT, fsync, rename, chains, faults")
struct FileTests {
    @Test("exists: files and directories yes; missing names and paths through a file no", arguments: testedEngines)
    func exists(kind: IOEngineKind) async throws {
        let directory = makeTempDirectory()
        defer { removeTree(directory) }
        let fd = open("\(directory)/file", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
        #expect(fd >= 0)
        close(fd)
        try await onLoop(kind) { loop in
            #expect(await FileSystem.exists("\(directory)/file", on: loop))
            #expect(await FileSystem.exists(directory, on: loop))
            #expect(await !FileSystem.exists("\(directory)/missing", on: loop))
            #expect(await !FileSystem.exists("\(directory)/missing/deeper", on: loop))
            #expect(await !FileSystem.exists("\(directory)/file/below-a-file", on: loop))
        }
    }

    @Test("O_DIRECT write then read of aligned buffers round-trips", arguments: testedEngines)
    func directRoundTrip(kind: IOEngineKind) async throws {
        let directory = makeTempDirectory()
        defer { removeTree(directory) }
        let direct = FileSystem.supportsDirectIO(in: directory)
        try await onLoop(kind) { loop in
            let pool = BufferPool(bufferBytes: 4 << 20, bufferCount: 2, loop: loop)
            let source = pool.tryAcquire()!
            let target = pool.tryAcquire()!
            let pattern = TestBytes(count: source.capacity, seed: 42)
            source.space.copyMemory(from: pattern.bytes)
            source.count = source.capacity
            let file = try await File.open("\(directory)/chunk", flags: O_CREAT | O_RDWR | O_TRUNC, direct: direct, on: loop)
            #expect(file.isDirect == direct)
            try await file.write(source.bytes, at: 0)
            try await file.sync()
            let read = try await file.read(into: target.space, at: 0)
            #expect(read == source.capacity)
            #expect(memcmp(source.base, target.base, read) == 0)
            try await file.close()
            try await FileSystem.rename("\(directory)/chunk", to: "\(directory)/renamed", on: loop)
            try await FileSystem.unlink("\(directory)/renamed", on: loop)
            await #expect(throws: IOError.self) { try await FileSystem.unlink("\(directory)/renamed", on: loop) }
        }
    }

    @Test("a filesystem that refuses O_DIRECT gives a clear fallback", arguments: testedEngines)
    func directFallback(kind: IOEngineKind) async throws {
        let directory = makeTempDirectory()
        defer { removeTree(directory) }
        try await onLoop(kind) { loop in
            // Stand in for tmpfs on old kernels, or overlay setups: O_DIRECT opens fail EINVAL.
            loop.faultInjector = { op in
                if case let .openat(_, _, flags, _) = op, flags & File.directFlag != 0 { return -EINVAL }
                return nil
            }
            let file = try await File.openPreferringDirect("\(directory)/f", flags: O_CREAT | O_RDWR, on: loop)
            #expect(!file.isDirect)
            let bytes = TestBytes(count: 5000, seed: 3)
            try await file.write(bytes.bytes, at: 0)
            let back = TestBytes(count: 5000)
            #expect(try await file.read(into: back.pointer, at: 0) == 5000)
            #expect(memcmp(back.pointer.baseAddress!, bytes.pointer.baseAddress!, 5000) == 0)
            try await file.close()
        }
    }

    @Test("write → fdatasync → rename runs as one linked chain", arguments: testedEngines)
    func linkedChain(kind: IOEngineKind) async throws {
        let directory = makeTempDirectory()
        defer { removeTree(directory) }
        try await onLoop(kind) { loop in
            let bytes = TestBytes(count: 8192, seed: 5)
            let file = try await File.open("\(directory)/tmp", flags: O_CREAT | O_WRONLY, on: loop)
            let from = strdup("\(directory)/tmp")!, to = strdup("\(directory)/final")!
            defer { free(from); free(to) }
            let results = await loop.performChain([
                .write(fd: file.fd, buffer: bytes.bytes.baseAddress!, count: 8192, offset: 0),
                .fsync(fd: file.fd, dataOnly: true),
                .renameat(oldDirfd: IOOperation.currentDirectory, oldPath: from, newDirfd: IOOperation.currentDirectory, newPath: to),
            ])
            #expect(results[0] == 8192 && results[1] == 0 && results[2] == 0)
            #expect(access("\(directory)/final", F_OK) == 0)
            try await file.close()
        }
    }

    @Test("an injected ENOSPC fails the chain and cancels the rest", arguments: testedEngines)
    func injectedNoSpace(kind: IOEngineKind) async throws {
        let directory = makeTempDirectory()
        defer { removeTree(directory) }
        try await onLoop(kind) { loop in
            let bytes = TestBytes(count: 4096)
            let file = try await File.open("\(directory)/tmp", flags: O_CREAT | O_WRONLY, on: loop)
            loop.faultInjector = { op in
                if case .write = op { return -ENOSPC }
                return nil
            }
            let results = await loop.performChain([
                .write(fd: file.fd, buffer: bytes.bytes.baseAddress!, count: 4096, offset: 0),
                .fsync(fd: file.fd, dataOnly: true),
            ])
            #expect(results[0] == -ENOSPC && results[1] == -ECANCELED)
            let error = await ioError { try await file.write(bytes.bytes, at: 0) }
            #expect(error?.kind == .noSpace)
            loop.faultInjector = nil
            try await file.close()
        }
    }

    @Test("short writes are continued by the runtime", arguments: testedEngines)
    func shortWrites(kind: IOEngineKind) async throws {
        let directory = makeTempDirectory()
        defer { removeTree(directory) }
        try await onLoop(kind) { loop in
            let bytes = TestBytes(count: 100_000, seed: 9)
            let file = try await File.open("\(directory)/f", flags: O_CREAT | O_RDWR, on: loop)
            // Every write moves at most 1000 bytes, through a real write of that prefix.
            nonisolated(unsafe) var injecting = false
            loop.faultInjector = { op in
                guard !injecting, case let .write(fd, buffer, count, offset) = op, count > 1000 else { return nil }
                injecting = true
                defer { injecting = false }
                return Int32(pwrite(fd, buffer, 1000, off_t(offset)))
            }
            try await file.write(bytes.bytes, at: 0)
            loop.faultInjector = nil
            let back = TestBytes(count: 100_000)
            #expect(try await file.read(into: back.pointer, at: 0) == 100_000)
            #expect(memcmp(back.pointer.baseAddress!, bytes.pointer.baseAddress!, 100_000) == 0)
            try await file.close()
        }
    }
}

@Suite("Buffer pool")
struct BufferPoolTests {
    @Test("buffers are page-aligned, bounded, and waiters get returned buffers in order", arguments: testedEngines)
    func boundedPool(kind: IOEngineKind) async throws {
        try await onLoop(kind) { loop in
            let pool = BufferPool(bufferBytes: 10_000, bufferCount: 2, loop: loop)
            #expect(pool.bufferBytes == 12_288)
            var first: IOBuffer? = try await pool.acquire()
            let second = try await pool.acquire()
            #expect(Int(bitPattern: first!.base) % 4096 == 0 && Int(bitPattern: second.base) % 4096 == 0)
            #expect(pool.tryAcquire() == nil)
            let waiter = loop.spawn { Int(bitPattern: try await pool.acquire().base) }
            try await loop.sleep(for: .milliseconds(10))
            #expect(pool.waiting == 1)
            let firstBase = Int(bitPattern: first!.base)
            first = nil
            #expect(try await waiter.value == firstBase)
            #expect(pool.inUse == 1)
            _ = second
        }
    }
}

@Suite("Concurrent reads")
struct ConcurrentReadTests {
    @Test("a read split into concurrent pieces returns every byte, and stops at end of file", arguments: testedEngines)
    func concurrentPieces(kind: IOEngineKind) async throws {
        let directory = makeTempDirectory()
        defer { removeTree(directory) }
        try await onLoop(kind) { loop in
            let pool = BufferPool(bufferBytes: 4 << 20, bufferCount: 2, loop: loop)
            let source = pool.tryAcquire()!, target = pool.tryAcquire()!
            let pattern = TestBytes(count: source.capacity, seed: 11)
            source.space.copyMemory(from: pattern.bytes)
            let file = try await File.open("\(directory)/f", flags: O_CREAT | O_RDWR, direct: FileSystem.supportsDirectIO(in: directory), on: loop)
            try await file.write(UnsafeRawBufferPointer(rebasing: source.space[0..<(3 << 20)]), at: 0)
            let whole = try await file.readConcurrently(into: target.space, at: 0, piecesMax: 4)
            #expect(whole == 3 << 20)
            #expect(memcmp(source.base, target.base, 3 << 20) == 0)
            try await file.close()
        }
    }

    @Test("several regions in one round: each filled from its own offset, counts stop at end of file", arguments: testedEngines)
    func regions(kind: IOEngineKind) async throws {
        let directory = makeTempDirectory()
        defer { removeTree(directory) }
        try await onLoop(kind) { loop in
            let pool = BufferPool(bufferBytes: 4 << 20, bufferCount: 2, loop: loop)
            let source = pool.tryAcquire()!, target = pool.tryAcquire()!
            let pattern = TestBytes(count: source.capacity, seed: 12)
            source.space.copyMemory(from: pattern.bytes)
            let file = try await File.open("\(directory)/f", flags: O_CREAT | O_RDWR, direct: FileSystem.supportsDirectIO(in: directory), on: loop)
            // A 2 MiB + 8 KiB file.
            let size = (2 << 20) + 8192
            try await file.write(UnsafeRawBufferPointer(rebasing: source.space[0..<size]), at: 0)
            func region(_ range: Range<Int>, from offset: Int) -> File.ReadRegion {
                File.ReadRegion(buffer: UnsafeMutableRawBufferPointer(rebasing: target.space[range]), offset: UInt64(offset))
            }
            let counts = try await file.readConcurrently([
                region(0..<(1 << 20), from: 4096),                           // split into pieces
                region((1 << 20)..<((1 << 20) + 8192), from: 0),              // small: one read
                region((2 << 20)..<(3 << 20), from: (2 << 20) - 4096),        // crosses the end: 12 KiB
                region((3 << 20)..<((3 << 20) + 4096), from: 3 << 20),        // past the end: nothing
            ], piecesMax: 4)
            #expect(counts == [1 << 20, 8192, 12288, 0])
            #expect(memcmp(target.base, source.base + 4096, 1 << 20) == 0)
            #expect(memcmp(target.base + (1 << 20), source.base, 8192) == 0)
            #expect(memcmp(target.base + (2 << 20), source.base + (2 << 20) - 4096, 12288) == 0)
            // An empty region first, then one small enough to be a single read.
            let small = try await file.readConcurrently([region(0..<0, from: 0), region((3 << 20)..<((3 << 20) + 4096), from: 8192)],
                                                        piecesMax: 4)
            #expect(small == [0, 4096])
            #expect(memcmp(target.base + (3 << 20), source.base + 8192, 4096) == 0)
            try await file.close()
        }
    }
}
