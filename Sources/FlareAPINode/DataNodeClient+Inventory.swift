import FlareCore
import FlareHTTP

/// `GET /chunks?older-than=SECONDS` over HTTP, for garbage collection.
extension DataNodeClient: ChunkInventory {
    /// Ids taken from one node's listing at most: 16 bytes each in memory, 256 MiB at most,
    /// and as much again for the metadata's check of them.
    static let listedChunksMax = 16 << 20
    /// A node reads every shard directory with a `stat` per chunk before it answers: on a
    /// large, cold node that takes far longer than a chunk exchange.
    static let listingTimeout = Duration.seconds(120)
    /// Bytes of the listing received at once, into memory of its own: the listing never
    /// takes (or waits for) a chunk buffer.
    static let listingReadBytes = 64 * 1024

    func chunkIDs(olderThanSeconds seconds: Int, on node: String) async throws(ChunkInventoryError) -> [ChunkID] {
        guard let address = directory.address(of: node) else {
            throw .failed(node: node, reason: "not a data node this api can reach")
        }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.listingReadBytes, alignment: 16)
        defer { scratch.deallocate() }
        var parser = ChunkListParser(node: node, idsMax: Self.listedChunksMax)
        do {
            // The node's id goes along: whatever answers at the address lists only if it is that node.
            try await client.execute(method: "GET", target: "/chunks?older-than=\(seconds)",
                                     headers: [DataNodeClient.expectedNodeHeader: node], to: address,
                                     timeout: max(timeout, Self.listingTimeout)) { response in
                parser = ChunkListParser(node: node, idsMax: Self.listedChunksMax)  // a retry on a fresh connection starts over
                guard response.status == 200 else {
                    self.noteAuthRefusal(node, "GET", status: response.status)
                    _ = try await response.body.discard(bytesMax: 64 * 1024)
                    throw ChunkInventoryError.failed(node: node, reason: "status \(response.status)")
                }
                while true {
                    let got = try await response.body.read(into: scratch)
                    if got == 0 { break }
                    try parser.feed(UnsafeRawBufferPointer(rebasing: scratch[0..<got]))
                }
                try parser.finish()
            }
        } catch let error as ChunkInventoryError {
            throw error
        } catch {
            throw .failed(node: node, reason: "\(error)")
        }
        return parser.ids
    }
}

/// Parses a listing of one chunk id per line, arriving in pieces that may cut a line.
struct ChunkListParser {
    let node: String
    let idsMax: Int
    private(set) var ids: [ChunkID] = []
    /// The start of a line cut by the end of the last piece (an id is 32 bytes: short).
    private var partial: [UInt8] = []

    init(node: String, idsMax: Int) {
        self.node = node
        self.idsMax = idsMax
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(ChunkInventoryError) {
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            partial += bytes[start..<index]
            try line()
            start = index + 1
        }
        partial += bytes[start...]
        if partial.count > 64 { throw .malformed(node: node, line: String(decoding: partial, as: UTF8.self)) }
    }

    /// The end of the listing: a last line without its newline still counts.
    mutating func finish() throws(ChunkInventoryError) {
        if !partial.isEmpty { try line() }
    }

    private mutating func line() throws(ChunkInventoryError) {
        defer { partial.removeAll(keepingCapacity: true) }
        guard let id = ChunkID(String(decoding: partial, as: UTF8.self)) else {
            throw .malformed(node: node, line: String(decoding: partial, as: UTF8.self))
        }
        guard ids.count < idsMax else { throw .tooMany(node: node, max: idsMax) }
        ids.append(id)
    }
}
