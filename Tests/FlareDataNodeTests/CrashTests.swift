import FlareAuth
import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Distinct 1 MiB chunks cut from one random file at 4 KiB steps, with their ids and
/// checksums in a manifest a shell loop can read (`id skip-blocks crc authorization`: each
/// PUT signed ahead, as the node's api would sign it, since a shell cannot).
struct ChunkWindows {
    static let chunkBytes = 1 << 20
    static let stepBytes = 4096
    let source: Payload
    let ids: [ChunkID]
    let manifestPath: String

    init(count: Int, in directory: String, signer: RequestSigner?) throws {
        source = try Payload.random(Self.chunkBytes + count * Self.stepBytes, in: directory, name: "windows")
        ids = (0..<count).map { _ in ChunkID.random() }
        var manifest = ""
        source.data.withUnsafeBytes { [ids] bytes in
            for (index, id) in ids.enumerated() {
                let window = UnsafeRawBufferPointer(rebasing: bytes[(index * Self.stepBytes)..<(index * Self.stepBytes + Self.chunkBytes)])
                let crc = hex8(CRC32C.checksum(window))
                // Signed now: the stream runs for seconds, well within the node's clock window.
                let authorization = signer?.authorization(method: "PUT", target: "/chunk/\(id)", header: { name in
                    switch name {
                    case "content-length": return "\(Self.chunkBytes)"
                    case "x-flare-checksum": return "crc32c=\(crc)"
                    default: return nil
                    }
                }, time: wallClockNanoseconds() / 1_000_000_000) ?? ""
                manifest += "\(id) \(index) \(crc) \(authorization)\n"
            }
        }
        manifestPath = "\(directory)/manifest"
        try manifest.write(toFile: manifestPath, atomically: false, encoding: .utf8)
    }

    func bytes(of id: ChunkID) -> Data? {
        ids.firstIndex(of: id).map { source.data[($0 * Self.stepBytes)..<($0 * Self.stepBytes + Self.chunkBytes)] }
    }
}

/// Sequential PUTs by a shell loop, one curl each, appending `id status` per answer to a
/// results file and stopping at the first answer that is not 201 (the node gone).
let putStreamScript = """
    while read -r id skip crc auth; do
      code=$(dd if="$1" bs=4096 skip="$skip" count=256 status=none |
        curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X PUT --data-binary @- \
          -H 'Content-Type: application/octet-stream' -H "X-Flare-Checksum: crc32c=$crc" \
          ${auth:+-H "Authorization: $auth"} "$3/chunk/$id")
      echo "$id $code" >> "$4"
      [ "$code" = 201 ] || break
    done < "$2"
    """

@Suite("Data node: a crash leaves whole chunks or none", .limited(by: dataNodeSlots))
struct CrashTests {
    static let chunksMax = 1000

    @Test("kill -9 during a stream of PUTs: every acknowledged chunk survives, tmp/ is cleared", arguments: testedEngines)
    func killDuringPuts(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "crash") { node, directory in
            let windows = try ChunkWindows(count: Self.chunksMax, in: directory.files, signer: node.signer)
            let results = "\(directory.files)/results"
            _ = FileManager.default.createFile(atPath: results, contents: nil)
            let stream = Process()
            stream.executableURL = URL(fileURLWithPath: "/bin/bash")
            stream.arguments = ["-c", putStreamScript, "put-stream", windows.source.path, windows.manifestPath, node.base, results]
            stream.standardInput = FileHandle.nullDevice
            try stream.run()
            defer {
                if stream.isRunning { kill(stream.processIdentifier, SIGKILL) }
                stream.waitUntilExit()
            }
            // About a second of PUTs (at least a few acknowledged), then the crash, preferably
            // while a write is open in tmp/ (polled for up to 5 s more).
            let started = Date()
            while Date().timeIntervalSince(started) < 10 {
                let elapsed = Date().timeIntervalSince(started)
                let done = acknowledged(results).count
                if done >= Self.chunksMax / 2 || (elapsed >= 6 && done >= 3) { break }
                if elapsed >= 1 && done >= 3 && !entries("\(directory.data)/tmp").isEmpty { break }
                try await Task.sleep(for: .milliseconds(elapsed >= 1 ? 1 : 20))
            }
            await node.stop(signal: SIGKILL)
            let leftovers = entries("\(directory.data)/tmp")
            let streamDeadline = Date().addingTimeInterval(30)
            while stream.isRunning && Date() < streamDeadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!stream.isRunning, "the PUT stream did not stop after the node died")
            let acked = acknowledged(results)
            print("crash test (\(engine)): \(acked.count) chunks acknowledged, \(leftovers.count) unfinished in tmp/ at kill -9")
            #expect(acked.count >= 3)

            try await node.start()
            let report = node.currentLog().split(separator: "\n").first { $0.contains("unfinished writes") }
            #expect(report?.contains("removed \(leftovers.count) unfinished writes") == true,
                    "restart should report \(leftovers.count) removed: \(report ?? "no report line")")
            #expect(entries("\(directory.data)/tmp").isEmpty, "tmp/ after restart: \(entries("\(directory.data)/tmp"))")
            try await checkEveryChunk(node, directory, windows, acked)
        }
    }

    /// Every acknowledged chunk reads back identical; every file under chunks/ is a whole
    /// chunk of the stream (a chunk committed just before the kill may be there unacknowledged).
    private func checkEveryChunk(_ node: DataNode, _ directory: TestDirectory, _ windows: ChunkWindows, _ acked: [ChunkID]) async throws {
        let listing = try await node.get(path: "/chunks")
        #expect(listing.status == 200)
        let lines = listing.text.split(separator: "\n")
        #expect(!lines.contains { !$0.hasSuffix(" \(ChunkWindows.chunkBytes)") }, "GET /chunks: \(listing.text.prefix(2000))")
        let listed = Set(lines.compactMap { ChunkID($0.prefix(32)) })
        let files = chunkFiles(directory.data)
        #expect(files.count == listed.count, "files under chunks/: \(files.count), listed: \(listed.count)")
        #expect(Set(acked).isSubset(of: listed), "acknowledged chunks missing: \(Set(acked).subtracting(listed))")
        #expect(listed.count <= acked.count + 1, "more than the one in-flight chunk committed without a 201")
        #expect(try await node.metric("flare_datanode_chunks") == Double(listed.count))
        for id in listed.sorted() {
            let get = try await node.get(id)
            #expect(get.status == 200, "\(id): \(get)")
            #expect(windows.bytes(of: id) != nil && get.body == windows.bytes(of: id), "\(id) differs after the crash")
        }
    }

    @Test("start-up removes what a crash left in tmp/ and counts the stored chunks")
    func startupClearsTemporaryFiles() throws {
        let directory = try TestDirectory("prepare")
        defer { directory.remove() }
        _ = try DataDirectory.prepare(directory.data)
        for name in ["0123456789abcdef0123456789abcdef.1.2.3", "leftover"] {
            _ = FileManager.default.createFile(atPath: "\(directory.data)/tmp/\(name)", contents: Data(count: 5000))
        }
        let report = try DataDirectory.prepare(directory.data)
        #expect(report.removedTemporaryFiles == 2 && report.chunkCount == 0)
        #expect(entries("\(directory.data)/tmp").isEmpty)
        #expect(entries("\(directory.data)/chunks").count == 256)
    }

    @Test("start-up keeps a tmp/ name that is a committed chunk counted once, and removes one counted twice")
    func startupSparesCommittedChunks() throws {
        let directory = try TestDirectory("prepare-link")
        defer { directory.remove() }
        _ = try DataDirectory.prepare(directory.data)
        let id = try #require(ChunkID("00112233445566778899aabbccddeeff"))
        let committed = "\(directory.data)/chunks/\(id.shard)/\(id)"
        _ = FileManager.default.createFile(atPath: committed, contents: Data(repeating: 7, count: 8192))
        // After fsck (or on a file system with a journal) the second name is a real hard link:
        // link count 2, and start-up removes the tmp/ name, not the chunk.
        let temporary = "\(directory.data)/tmp/\(id).9.9.1"
        #expect(link(committed, temporary) == 0)
        let report = try DataDirectory.prepare(directory.data)
        #expect(report.removedTemporaryFiles == 1 && report.keptTemporaryFiles.isEmpty && report.chunkCount == 1)
        #expect(FileManager.default.contents(atPath: committed) == Data(repeating: 7, count: 8192))

        // The crash case cannot be made on a healthy file system (two names, one link
        // counted), so the decision itself is checked.
        var chunk = stat()
        #expect(lstat(committed, &chunk) == 0)
        var sameFileOneLink = chunk
        sameFileOneLink.st_nlink = 1
        #expect(DataDirectory.TemporaryEntry.decide(temporary: sameFileOneLink, committed: chunk) == .keep)
        var sameFileTwoLinks = chunk
        sameFileTwoLinks.st_nlink = 2
        #expect(DataDirectory.TemporaryEntry.decide(temporary: sameFileTwoLinks, committed: chunk) == .remove)
        var otherFile = chunk
        otherFile.st_ino &+= 1
        #expect(DataDirectory.TemporaryEntry.decide(temporary: otherFile, committed: chunk) == .remove)
        var otherDevice = sameFileOneLink
        otherDevice.st_dev &+= 1
        #expect(DataDirectory.TemporaryEntry.decide(temporary: otherDevice, committed: chunk) == .remove)
        #expect(DataDirectory.TemporaryEntry.decide(temporary: sameFileOneLink, committed: nil) == .remove)
    }

    private func acknowledged(_ results: String) -> [ChunkID] {
        let text = (try? String(contentsOfFile: results, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            return parts.count == 2 && parts[1] == "201" ? ChunkID(parts[0]) : nil
        }
    }
}
