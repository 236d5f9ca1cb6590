import FlareCore
import FlareDataNode
import FlareIO
import FlareTestSupport
import Foundation
import Testing

@Suite("Data node: the segment read with the footer serves the stream that starts in it")
struct PrefetchTests {
    static let segment = ChunkFormat.segmentBytes

    /// Streams `range` from a chunk opened with `prefetchAt`.
    static func read(_ id: ChunkID, _ range: Range<Int>, prefetchAt: Int?, from store: ChunkStore) async throws(ChunkStoreError) -> Data {
        let reader = try await store.open(id, prefetchAt: prefetchAt)
        var data = Data()
        do {
            try await reader.stream(range, start: {}, send: { data.append(contentsOf: $0) })
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
        return data
    }

    @Test("any prefetch offset, right or wrong, gives the same bytes for every range", arguments: testedEngines)
    func ranges(engine: IOEngineKind) async throws {
        try await withChunkStore(engine, "prefetch") { chunks, stats, _, _ in
            // One block, one segment exactly, and two and a bit segments (last one short).
            for size in [1, 4096, Self.segment, 2 * Self.segment + 5000] {
                let bytes = randomBytes(size)
                let id = ChunkID.random()
                _ = try await store(bytes, as: id, in: chunks)
                let ranges = [0..<size, 0..<1, (size - 1)..<size, (size / 2)..<size,
                              min(Self.segment, size - 1)..<size, (size - 1 - min(size - 1, 4095))..<size]
                let prefetches: [Int?] = [nil, 0, 4096, Self.segment, Self.segment + 1, 2 * Self.segment, size, size + 1 << 20, Int.max / 2]
                for range in ranges {
                    for prefetch in prefetches {
                        let got = try await Self.read(id, range, prefetchAt: prefetch, from: chunks)
                        #expect(got == bytes[range], "\(size) B, range \(range), prefetch \(prefetch.map(String.init) ?? "none")")
                    }
                }
                // The empty chunk: nothing to prefetch, the footer alone is read.
                let empty = ChunkID.random()
                _ = try await store(Data(), as: empty, in: chunks)
                #expect(try await Self.read(empty, 0..<0, prefetchAt: 0, from: chunks).isEmpty)
            }
            #expect(stats.metrics.value("flare_datanode_corrupt_chunks_total") == 0)
        }
    }

    @Test("a flipped byte in the prefetched segment is still caught before a byte is sent", arguments: testedEngines)
    func corruptPrefetch(engine: IOEngineKind) async throws {
        try await withChunkStore(engine, "prefetch-corrupt") { chunks, stats, _, data in
            for (size, flipAt) in [(10_000, 9_999), (Self.segment + 10, 17), (Self.segment + 10, Self.segment + 3)] {
                let id = ChunkID.random()
                _ = try await store(randomBytes(size), as: id, in: chunks)
                let path = "\(data)/chunks/\(String(id.description.prefix(2)))/\(id)"
                let handle = try #require(FileHandle(forUpdatingAtPath: path))
                try handle.seek(toOffset: UInt64(flipAt))
                let byte = try #require(try handle.read(upToCount: 1)).first!
                try handle.seek(toOffset: UInt64(flipAt))
                try handle.write(contentsOf: [byte ^ 0x40])
                try handle.close()
                var sent = 0
                let reader = try await chunks.open(id, prefetchAt: flipAt)
                do throws(ChunkStoreError) {
                    try await reader.stream(flipAt..<size, start: {}, send: { sent += $0.count })
                    Issue.record("\(size) B with byte \(flipAt) flipped streamed whole")
                } catch {
                    guard case .corrupt = error else {
                        Issue.record("expected corrupt, got \(error)")
                        await reader.close()
                        continue
                    }
                }
                await reader.close()
                #expect(sent == 0, "\(sent) bytes of a corrupt segment were sent")
            }
            #expect(stats.metrics.value("flare_datanode_corrupt_chunks_total") == 3)
        }
    }
}
