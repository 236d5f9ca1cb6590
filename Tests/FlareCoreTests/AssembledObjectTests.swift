import FlareCore
import FlareTestSupport
import Testing

/// What an object assembled from multipart parts needs from FlareCore: the CRC32C of the
/// whole from its parts' CRCs, and chunks of different lengths found by offset.
@Suite("Objects assembled from parts")
struct AssembledObjectTests {
    @Test("CRC32C.combine(a, b, length) is the CRC32C of the concatenation, for lengths 0, 1, odd, even and large")
    func combine() {
        var generator = SeededGenerator(seed: 9)
        for (lengthA, lengthB) in [(0, 0), (0, 5), (5, 0), (1, 1), (3, 7), (4096, 4095), (65537, 1 << 20), (1, 3_000_001)] {
            let a = (0..<lengthA).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let b = (0..<lengthB).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let whole = (a + b).withUnsafeBytes { CRC32C.checksum($0) }
            let crcA = a.withUnsafeBytes { CRC32C.checksum($0) }, crcB = b.withUnsafeBytes { CRC32C.checksum($0) }
            #expect(CRC32C.combine(crcA, crcB, lengthB: lengthB) == whole, "\(lengthA) + \(lengthB)")
        }
    }

    @Test("chunks of different lengths: every byte's chunk by binary search over the starts")
    func chunkByOffset() {
        let lengths = [5, 3, 5, 1, 4]
        let chunks = lengths.enumerated().map { ChunkRecord(index: $0.offset, id: ChunkID.random(), length: $0.element, crc32c: 0, replicas: ["n"]) }
        let manifest = ObjectManifest(key: "k", size: lengths.reduce(0, +), chunkSize: 5, crc32c: 0, createdNanoseconds: 0, chunks: chunks)
        #expect(manifest.validate() == nil, "short chunks inside are allowed")
        let starts = manifest.chunkStarts
        #expect(starts == [0, 5, 8, 13, 14, 18])
        var expected: [Int] = []
        for (index, length) in lengths.enumerated() { expected += Array(repeating: index, count: length) }
        #expect((0..<manifest.size).map { ObjectManifest.chunk(containing: $0, starts: starts) } == expected)
        var tooLong = manifest
        tooLong.chunks[1].length = 6
        tooLong.size += 3
        #expect(tooLong.validate() != nil, "a chunk over chunkSize")
    }
}
