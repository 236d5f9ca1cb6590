/// One chunk of an object, as recorded at commit.
public struct ChunkRecord: Equatable, Sendable {
    /// Position in the object, from 0.
    public var index: Int
    public var id: ChunkID
    public var length: Int
    public var crc32c: UInt32
    /// Data nodes (`host:port`) holding a copy, in the order to read them.
    public var replicas: [String]

    public init(index: Int, id: ChunkID, length: Int, crc32c: UInt32, replicas: [String]) {
        self.index = index
        self.id = id
        self.length = length
        self.crc32c = crc32c
        self.replicas = replicas
    }
}

/// Everything a read needs: the ordered chunk list with placements. Committed last, after
/// every chunk is durable; an object is visible exactly when its manifest is.
public struct ObjectManifest: Equatable, Sendable {
    public var key: String
    public var size: Int
    public var chunkSize: Int
    /// CRC32C of the whole object.
    public var crc32c: UInt32
    /// Commit time, nanoseconds since the Unix epoch.
    public var createdNanoseconds: Int64
    public var chunks: [ChunkRecord]
    /// MD5, content type and stored headers (S3's); empty for a native PUT.
    public var attributes: ObjectAttributes

    public init(key: String, size: Int, chunkSize: Int, crc32c: UInt32, createdNanoseconds: Int64, chunks: [ChunkRecord],
                attributes: ObjectAttributes = ObjectAttributes()) {
        self.key = key
        self.size = size
        self.chunkSize = chunkSize
        self.crc32c = crc32c
        self.createdNanoseconds = createdNanoseconds
        self.chunks = chunks
        self.attributes = attributes
    }

    /// The entity tag: the quoted MD5 when the object has one (S3 clients check it), else one
    /// that changes whenever the bytes may have changed.
    public var etag: String {
        if let md5 = attributes.md5 { return "\"\(md5)\"" }
        return "\"\(hex8(crc32c))-\(String(size, radix: 16))-\(String(createdNanoseconds, radix: 36))\""
    }

    /// Checks the invariants a reader relies on: chunk indices 0…n-1 in order, lengths of
    /// 1…`chunkSize` that add up to the size, replicas present. A single PUT's chunks are all
    /// `chunkSize` but the last; an object assembled from multipart parts has a short chunk at
    /// the end of each part, so readers find a byte's chunk by ``chunkStarts``.
    public func validate() -> String? {
        var total = 0
        for (position, chunk) in chunks.enumerated() {
            if chunk.index != position { return "chunk \(position) has index \(chunk.index)" }
            if chunk.replicas.isEmpty { return "chunk \(position) has no replica" }
            if chunk.length <= 0 || chunk.length > chunkSize { return "chunk \(position) has length \(chunk.length)" }
            total += chunk.length
        }
        return total == size ? nil : "chunk lengths add up to \(total), not \(size)"
    }

    /// Where each chunk starts in the object, and (last) the object's size.
    public var chunkStarts: [Int] {
        var starts = [0]
        starts.reserveCapacity(chunks.count + 1)
        for chunk in chunks { starts.append(starts.last! + chunk.length) }
        return starts
    }

    /// The chunk holding byte `offset` (< size), by binary search over `starts` (``chunkStarts``).
    public static func chunk(containing offset: Int, starts: [Int]) -> Int {
        precondition(offset >= 0 && offset < starts.last!, "offset \(offset) outside the object")
        var low = 0, high = starts.count - 2
        while low < high {
            let middle = (low + high + 1) / 2
            if starts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// The chunk list as text, one chunk per line: `index id length crc32c replica,replica`.
    public func encodeChunks() -> String {
        chunks.map { "\($0.index) \($0.id) \($0.length) \(hex8($0.crc32c)) \($0.replicas.joined(separator: ","))\n" }.joined()
    }

    /// Parses ``encodeChunks()``'s output; `nil` when it is malformed.
    public static func decodeChunks(_ text: String) -> [ChunkRecord]? {
        var chunks: [ChunkRecord] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 5, let index = Int(fields[0]), let id = ChunkID(fields[1]), let length = Int(fields[2]),
                  let crc = UInt32(fields[3], radix: 16) else { return nil }
            chunks.append(ChunkRecord(index: index, id: id, length: length, crc32c: crc,
                                      replicas: fields[4].split(separator: ",").map(String.init)))
        }
        return chunks
    }
}
