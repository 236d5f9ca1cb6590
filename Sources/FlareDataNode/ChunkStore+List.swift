import FlareCore

/// Listing what is committed.
extension ChunkStore {
    /// Every committed chunk id, shard by shard.
    public func ids() -> [ChunkID] {
        (0..<256).flatMap { shard -> [ChunkID] in
            let name = shardName(shard)
            return DirectoryListing.names(in: "\(directory)/chunks/\(name)").compactMap { ChunkID($0) }.sorted()
        }
    }
}
