import FlareCore
import FlareIO

/// Listing what is committed.
extension ChunkStore {
    /// Every committed chunk id, shard by shard, each shard sorted. The directories are read
    /// on the blocking pool, one at a time, so the loop goes on serving in between.
    /// A shard directory that is missing holds no chunks; any other failure to read one is
    /// an error, since a listing that silently leaves chunks out would mislead its reader.
    public func ids() async throws(ChunkStoreError) -> [ChunkID] {
        var ids: [ChunkID] = []
        for shard in 0..<256 {
            let names: [String]
            do {
                names = try await FileSystem.names(in: "\(directory)/chunks/\(shardName(shard))", on: loop)
            } catch where error.kind == .notFound {
                continue
            } catch {
                throw .from(error)
            }
            ids += names.compactMap { ChunkID($0) }.sorted()
        }
        return ids
    }
}
