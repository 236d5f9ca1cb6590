import FlareCore
import FlareDataNode
import FlareIO
import FlareMetrics
import FlareTestSupport
import Foundation
import Logging
import Testing

@Suite("Data node: a chunk that fails its checks is moved to quarantine/, with its reason")
struct QuarantineTests {
    @Test("a read that finds a corrupt footer moves the chunk; a reload lists it; deleting it removes both files", arguments: testedEngines)
    func moveReloadDelete(engine: IOEngineKind) async throws {
        try await withChunkStore(engine, "quarantine") { chunks, stats, _, data in
            let id = ChunkID.random()
            _ = try await store(randomBytes(10_000), as: id, in: chunks)
            let kept = ChunkID.random()
            _ = try await store(randomBytes(10_000), as: kept, in: chunks)
            let path = "\(data)/chunks/\(id.shard)/\(id)"
            try flipByte(path, at: fileSize(path) - 100)
            let before = wallClockNanoseconds()
            do throws(ChunkStoreError) {
                _ = try await chunks.open(id)
                Issue.record("a corrupt footer opened")
            } catch {
                guard case .corrupt(_, let corruption) = error else { throw error }
                #expect(corruption.reason == "footer checksum mismatch")
            }
            let quarantined = "\(data)/quarantine/\(id)"
            #expect(!FileManager.default.fileExists(atPath: path), "the corrupt chunk is still in chunks/")
            #expect(FileManager.default.fileExists(atPath: quarantined))
            let reason = try String(contentsOfFile: quarantined + ".reason", encoding: .utf8)
            #expect(reason.hasSuffix(" footer checksum mismatch\n"), "\(reason.debugDescription)")
            let entries = chunks.quarantine.entries
            #expect(entries.map(\.id) == [id] && entries.first?.reason == "footer checksum mismatch")
            #expect((entries.first?.foundNanoseconds ?? 0) >= before)
            #expect(stats.metrics.value("flare_datanode_chunks") == 1, "the gauge still counts the quarantined chunk")
            #expect(stats.metrics.value("flare_datanode_quarantined_chunks") == 1)
            do throws(ChunkStoreError) {
                _ = try await chunks.open(id)
                Issue.record("a quarantined chunk opened")
            } catch {
                guard case .notFound = error else { throw error }
            }
            #expect(try await chunks.ids() == [kept])
            // The age listing (garbage collection's) names it once found long enough ago, so a
            // quarantined copy no manifest names is not kept for ever.
            #expect(try await chunks.ids(olderThanSeconds: 0).sorted() == [id, kept].sorted())
            #expect(try await chunks.ids(olderThanSeconds: 3600).isEmpty)

            let reloaded = try ChunkQuarantine.load(dataDirectory: data, metrics: NodeMetrics(), logger: Logger(label: "test"))
            #expect(reloaded.entries == entries, "what a restart reads back")

            #expect(try await chunks.deleteQuarantined(id))
            #expect(!FileManager.default.fileExists(atPath: quarantined) && !FileManager.default.fileExists(atPath: quarantined + ".reason"))
            #expect(chunks.quarantine.entries.isEmpty && stats.metrics.value("flare_datanode_quarantined_chunks") == 0)
            #expect(try await !chunks.deleteQuarantined(id), "a second delete finds nothing")
            #expect(try await chunks.open(kept).footer.length == 10_000, "the other chunk is untouched")
        }
    }

    @Test("a flipped content byte is caught while streaming and quarantined; no byte of that segment went out", arguments: testedEngines)
    func streamFindsContent(engine: IOEngineKind) async throws {
        try await withChunkStore(engine, "quarantine-stream") { chunks, _, _, data in
            let id = ChunkID.random()
            _ = try await store(randomBytes(50_000), as: id, in: chunks)
            try flipByte("\(data)/chunks/\(id.shard)/\(id)", at: 49_999)
            let reader = try await chunks.open(id)
            var sent = 0
            do throws(ChunkStoreError) {
                try await reader.stream(0..<50_000, start: {}, send: { sent += $0.count })
                Issue.record("a corrupt segment streamed")
            } catch {
                guard case .corrupt(_, let corruption) = error else { throw error }
                #expect(corruption.reason == "segment 0 checksum mismatch")
            }
            await reader.close()
            #expect(sent == 0)
            #expect(chunks.quarantine.entries.map(\.reason) == ["segment 0 checksum mismatch"])
            #expect(FileManager.default.fileExists(atPath: "\(data)/quarantine/\(id)"))
        }
    }

    @Test("start-up reads the quarantine, drops a crash's leftovers, keeps a chunk that lost its reason")
    func loadLeftovers() throws {
        let directory = try TestDirectory("quarantine-load")
        defer { directory.remove() }
        let quarantine = "\(directory.data)/quarantine"
        try FileManager.default.createDirectory(atPath: quarantine, withIntermediateDirectories: true)
        let recorded = ChunkID.random()
        let unexplained = ChunkID.random()
        let orphan = ChunkID.random()
        func write(_ name: String, _ text: String) throws { try text.write(toFile: "\(quarantine)/\(name)", atomically: false, encoding: .utf8) }
        try write("\(recorded)", "bad bytes")
        try write("\(recorded).reason", "1700000000123456789 segment 3 checksum mismatch\n")
        try write("\(unexplained)", "bad bytes")
        try write("\(orphan).reason", "1700000000000000000 footer truncated\n")
        try write("\(recorded).reason.tmp", "17000")
        try write("README", "an operator's note")
        let metrics = NodeMetrics()
        let loaded = try ChunkQuarantine.load(dataDirectory: directory.data, metrics: metrics, logger: Logger(label: "test"))
        let byID = Dictionary(uniqueKeysWithValues: loaded.entries.map { ($0.id, $0) })
        #expect(Set(byID.keys) == [recorded, unexplained])
        #expect(byID[recorded] == ChunkQuarantine.Entry(id: recorded, reason: "segment 3 checksum mismatch", foundNanoseconds: 1_700_000_000_123_456_789))
        #expect(byID[unexplained]?.reason.hasPrefix("no reason recorded") == true)
        #expect((byID[unexplained]?.foundNanoseconds ?? 0) > 1_700_000_000_000_000_000, "found at the file's ctime")
        #expect(metrics.value("flare_datanode_quarantined_chunks") == 2)
        #expect(Set(entries(quarantine)) == ["\(recorded)", "\(recorded).reason", "\(unexplained)", "README"])
        #expect(loaded.json().hasPrefix("{\"chunks\":[{\"id\":\""))
    }

    @Test("GET /chunks/corrupt's body: id order, reasons escaped")
    func json() throws {
        let directory = try TestDirectory("quarantine-json")
        defer { directory.remove() }
        let quarantine = "\(directory.data)/quarantine"
        try FileManager.default.createDirectory(atPath: quarantine, withIntermediateDirectories: true)
        let low = ChunkID(high: 1, low: 2)
        let high = ChunkID(high: .max, low: 0)
        for (id, reason) in [(high, "footer names chunk \"x\""), (low, "segment 0 truncated")] {
            try "x".write(toFile: "\(quarantine)/\(id)", atomically: false, encoding: .utf8)
            try "42 \(reason)\n".write(toFile: "\(quarantine)/\(id).reason", atomically: false, encoding: .utf8)
        }
        let loaded = try ChunkQuarantine.load(dataDirectory: directory.data, metrics: NodeMetrics(), logger: Logger(label: "test"))
        #expect(loaded.json() == """
            {"chunks":[{"id":"\(low)","reason":"segment 0 truncated","found_ns":42},{"id":"\(high)","reason":"footer names chunk \\"x\\"","found_ns":42}]}

            """)
        let empty = try TestDirectory("quarantine-empty")
        defer { empty.remove() }
        #expect(try ChunkQuarantine.load(dataDirectory: empty.data, metrics: NodeMetrics(), logger: Logger(label: "test")).json() == "{\"chunks\":[]}\n")
    }
}
