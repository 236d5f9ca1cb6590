import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Runs `body` over a directory of its own holding the chunks `store` put there through a
/// node with scrubbing off (so no pass can read a chunk before the test has damaged it);
/// `body` then starts the nodes it needs on that directory. Every node is killed afterwards.
private func withStoredChunks<T>(_ engine: IOEngineKind, _ label: String,
                                 store: (DataNode, TestDirectory) async throws -> T,
                                 _ body: (T, TestDirectory, inout [DataNode]) async throws -> Void) async throws {
    try skipIfUnavailable(engine)
    let directory = try TestDirectory("\(label)-\(engine)")
    defer { directory.remove() }
    var nodes: [DataNode] = []
    defer { for node in nodes { node.kill() } }
    let writer = try DataNode(engine: engine, directory: directory, arguments: ["--scrub-interval", "0"])
    nodes.append(writer)
    do {
        try await writer.start()
        let stored = try await store(writer, directory)
        await writer.stop()
        try await body(stored, directory, &nodes)
    } catch {
        for node in nodes { print("datanode log (\(label), \(engine)):\n\(node.currentLog().suffix(4000))") }
        throw error
    }
}

/// Puts random chunks of `sizes` bytes; their ids and payloads.
private func putChunks(_ sizes: [Int], on node: DataNode, in directory: TestDirectory) async throws -> [(ChunkID, Payload)] {
    var stored: [(ChunkID, Payload)] = []
    for size in sizes {
        let payload = try Payload.random(size, in: directory.files)
        let id = ChunkID.random()
        let put = try await node.put(id, payload)
        guard put.status == 201 else { throw StartFailure(description: "PUT of \(size) B: \(put)") }
        stored.append((id, payload))
    }
    return stored
}

/// The `scrub-state` file's fields.
private func scrubState(_ directory: TestDirectory) -> ScrubState? {
    guard let text = try? String(contentsOfFile: "\(directory.data)/\(ScrubState.fileName)", encoding: .utf8) else { return nil }
    return ScrubState.parse(text)
}

/// Writes a `scrub-state` whose schedule began two hours ago, so that a node started with
/// `--scrub-interval 3600` runs its first pass at once and its second an hour later: one
/// pass, whatever the machine's speed, whose counts the test can check exactly.
private func scheduleOnePassNow(_ directory: TestDirectory) throws {
    let state = ScrubState(sinceNanoseconds: wallClockNanoseconds() - 7_200_000_000_000)
    try state.encoded.write(toFile: "\(directory.data)/\(ScrubState.fileName)", atomically: true, encoding: .utf8)
}

/// `GET /chunks/corrupt` as (id, reason, found_ns) triples.
private func corruptList(_ node: DataNode) async throws -> [(id: String, reason: String, found: Int64)] {
    let answer = try await node.get(path: "/chunks/corrupt")
    #expect(answer.status == 200 && answer.isJSON, "\(answer)")
    let chunks = try #require(answer.json?["chunks"] as? [[String: Any]], "\(answer.text)")
    return chunks.map { ($0["id"] as? String ?? "", $0["reason"] as? String ?? "", ($0["found_ns"] as? NSNumber)?.int64Value ?? 0) }
}

@Suite("Data node: scrubbing finds corrupt chunks and takes them out of service", .limited(by: dataNodeSlots))
struct ScrubTests {
    static let segment = ChunkFormat.segmentBytes

    @Test("flipped content bytes are found by a pass, quarantined, listed and never served; good chunks stay; DELETE removes the bad copy",
          arguments: testedEngines)
    func findsFlippedBytes(engine: IOEngineKind) async throws {
        try await withStoredChunks(engine, "scrub", store: { writer, directory in
            try await putChunks([100_000, 2 * Self.segment + 5, 100_000, 2 * Self.segment + 5], on: writer, in: directory)
        }) { stored, directory, nodes in
            let (good, bad) = (Array(stored[0..<2]), Array(stored[2..<4]))
            // Content bytes, not footers: one in a one-segment chunk, one in a later segment.
            try flipByte("\(directory.data)/chunks/\(bad[0].0.shard)/\(bad[0].0)", at: 100)
            try flipByte("\(directory.data)/chunks/\(bad[1].0.shard)/\(bad[1].0)", at: Self.segment + 17)
            let started = wallClockNanoseconds()
            try scheduleOnePassNow(directory)
            let node = try DataNode(engine: engine, directory: directory, arguments: ["--scrub-interval", "3600", "--scrub-bandwidth", "0"])
            nodes.append(node)
            try await node.start()
            let passed = try await node.eventually(within: 60) { try await node.metric("flare_datanode_scrub_passes_total") ?? 0 >= 1 }
            #expect(passed, "no scrub pass ended within 60 s")

            #expect(try await node.metric("flare_datanode_scrub_chunks_total", labels: "result=\"corrupt\"") == 2)
            #expect(try await node.metric("flare_datanode_scrub_chunks_total", labels: "result=\"ok\"") == 2)
            #expect(try await node.metric("flare_datanode_scrub_pass_chunks") == 4)
            #expect(try await node.metric("flare_datanode_scrub_pass_chunks_total") == 4)
            #expect(try await node.metric("flare_datanode_quarantined_chunks") == 2)
            #expect(try await node.metric("flare_datanode_chunks") == 2, "quarantined chunks still counted as stored")
            // Every byte of every file read once, but for the last segment of the chunk whose
            // second segment failed: reading stops at the first bad segment.
            let fileBytes = stored.reduce(0) { $0 + ChunkFormat.fileBytes($1.1.data.count) } - ChunkFormat.padded(5)
            #expect(try await node.metric("flare_datanode_scrub_bytes_total") == Double(fileBytes))
            let end = try await node.metric("flare_datanode_scrub_last_pass_end_seconds") ?? 0
            #expect(end * 1e9 >= Double(started), "last pass end \(end)")

            for (id, _) in bad {
                #expect(!FileManager.default.fileExists(atPath: "\(directory.data)/chunks/\(id.shard)/\(id)"), "\(id) still in chunks/")
                #expect(FileManager.default.fileExists(atPath: "\(directory.data)/quarantine/\(id)"), "\(id) not in quarantine/")
            }
            let listed = try await corruptList(node)
            let badIDs = bad.map(\.0).sorted()
            #expect(listed.map(\.id) == badIDs.map(\.description), "GET /chunks/corrupt: \(listed)")
            let reasons = Dictionary(uniqueKeysWithValues: listed.map { ($0.id, $0.reason) })
            #expect(reasons[bad[0].0.description] == "segment 0 checksum mismatch")
            #expect(reasons[bad[1].0.description] == "segment 1 checksum mismatch")
            #expect(listed.allSatisfy { $0.found >= started }, "found_ns before the node started: \(listed)")

            // Never the bad bytes: 404 for GET, a range and HEAD.
            for (id, payload) in bad {
                let get = try await node.get(id)
                expectError(get, 404, "GET of quarantined \(id)")
                #expect(get.body != payload.data)
                expectError(try await node.get(id, ["-H", "Range: bytes=0-9"]), 404, "a range of quarantined \(id)")
                #expect(try await node.head(id).status == 404, "HEAD of quarantined \(id)")
            }
            for (id, payload) in good {
                let get = try await node.get(id)
                #expect(get.status == 200 && get.body == payload.data, "good chunk \(id): \(get.status)")
            }
            let listing = try await node.get(path: "/chunks").text
            #expect(Set(listing.split(separator: "\n").map { String($0.prefix(32)) }) == Set(good.map(\.0.description)), "GET /chunks: \(listing)")

            // A good copy written back under the id is stored and served; the bad one stays listed.
            let (rewritten, rewrittenPayload) = bad[0]
            #expect(try await node.put(rewritten, rewrittenPayload).status == 201)
            #expect(try await node.get(rewritten).body == rewrittenPayload.data)
            #expect(try await corruptList(node).map(\.id) == badIDs.map(\.description))

            // DELETE takes either copy: 204 while one was there, then 404.
            for (id, _) in bad {
                let deleted = try await node.delete(id)
                #expect(deleted.status == 204, "DELETE of \(id): \(deleted)")
                expectError(try await node.get(id), 404, "GET after DELETE")
                expectError(try await node.delete(id), 404, "a second DELETE")
            }
            #expect(try await corruptList(node).isEmpty)
            #expect(entries("\(directory.data)/quarantine").isEmpty, "left in quarantine/: \(entries("\(directory.data)/quarantine"))")
            #expect(try await node.metric("flare_datanode_quarantined_chunks") == 0)
            #expect(try await node.metric("flare_datanode_chunks") == 2)
            await node.stop(signal: SIGTERM)
        }
    }

    @Test("a pass reads at about --scrub-bandwidth: 24 MiB at 4 MiB/s takes at least half of 6 s", arguments: testedEngines)
    func respectsBandwidth(engine: IOEngineKind) async throws {
        let chunkBytes = 2 << 20
        let count = 12
        let rate = 4 << 20
        try await withStoredChunks(engine, "scrub-rate", store: { writer, directory in
            try await putChunks(Array(repeating: chunkBytes, count: count), on: writer, in: directory)
        }) { _, directory, nodes in
            try scheduleOnePassNow(directory)
            let node = try DataNode(engine: engine, directory: directory,
                                    arguments: ["--scrub-interval", "3600", "--scrub-bandwidth", "\(rate)"])
            nodes.append(node)
            let started = ContinuousClock.now
            try await node.start()
            let passed = try await node.eventually(within: 120) { try await node.metric("flare_datanode_scrub_passes_total") ?? 0 >= 1 }
            let elapsed = (ContinuousClock.now - started).secondsValue
            #expect(passed, "no scrub pass ended within 120 s")
            let bytes = count * ChunkFormat.fileBytes(chunkBytes)
            let floor = 0.5 * Double(bytes) / Double(rate)
            #expect(elapsed >= floor, "a pass over \(bytes) B at \(rate) B/s ended \(elapsed) s after the start")
            let duration = try await node.metric("flare_datanode_scrub_last_pass_duration_seconds") ?? 0
            #expect(duration >= floor, "the pass itself took \(duration) s")
            #expect(try await node.metric("flare_datanode_scrub_bytes_total") == Double(bytes))
            #expect(try await node.metric("flare_datanode_scrub_chunks_total", labels: "result=\"ok\"") == Double(count))
            await node.stop(signal: SIGTERM)
        }
    }

    @Test("scrub-state: a restart after a pass does not scrub again at once; an overdue pass runs at once", arguments: testedEngines)
    func restartKeepsSchedule(engine: IOEngineKind) async throws {
        try await withStoredChunks(engine, "scrub-restart", store: { writer, directory in
            try await putChunks([10_000], on: writer, in: directory)
        }) { _, directory, nodes in
            #expect(scrubState(directory) == nil, "a node with scrubbing off wrote scrub-state")
            let first = try DataNode(engine: engine, directory: directory, arguments: ["--scrub-interval", "1"])
            nodes.append(first)
            try await first.start()
            #expect(try await first.eventually(within: 60) { try await first.metric("flare_datanode_scrub_passes_total") ?? 0 >= 1 })
            await first.stop()
            let state = try #require(scrubState(directory), "no scrub-state after a pass")
            let end = try #require(state.lastPassEndNanoseconds, "scrub-state without the pass: \(state)")

            // An hour's interval from a pass that just ended: no pass now, and the metric
            // shows the pass the file recorded.
            let restarted = try DataNode(engine: engine, directory: directory, arguments: ["--scrub-interval", "3600"])
            nodes.append(restarted)
            try await restarted.start()
            for _ in 0..<15 {
                #expect(try await restarted.metric("flare_datanode_scrub_passes_total") == 0, "a pass ran right after a restart")
                try await Task.sleep(for: .milliseconds(200))
            }
            let shown = try await restarted.metric("flare_datanode_scrub_last_pass_end_seconds") ?? 0
            #expect(abs(shown - Double(end) / 1e9) < 1e-3, "last pass end \(shown), scrub-state says \(end)")
            await restarted.stop()
            #expect(scrubState(directory) == state, "a restart rewrote scrub-state")

            // A pass that ended an hour ago, with a 30-minute interval: due, so it runs at once
            // (a schedule counted from the start would wait half an hour).
            let hourAgo = wallClockNanoseconds() - 3_600_000_000_000
            let old = ScrubState(sinceNanoseconds: hourAgo - 3_600_000_000_000, lastPassEndNanoseconds: hourAgo)
            try old.encoded.write(toFile: "\(directory.data)/\(ScrubState.fileName)", atomically: true, encoding: .utf8)
            let overdue = try DataNode(engine: engine, directory: directory, arguments: ["--scrub-interval", "1800"])
            nodes.append(overdue)
            try await overdue.start()
            #expect(try await overdue.eventually(within: 60) { try await overdue.metric("flare_datanode_scrub_passes_total") ?? 0 >= 1 },
                    "an overdue pass did not run")
            let after = try #require(scrubState(directory))
            #expect((after.lastPassEndNanoseconds ?? 0) > hourAgo && after.sinceNanoseconds == old.sinceNanoseconds, "\(after)")
            await overdue.stop(signal: SIGTERM)
        }
    }
}
