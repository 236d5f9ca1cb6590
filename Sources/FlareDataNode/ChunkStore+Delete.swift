import FlareCore
import FlareIO

/// Deleting a committed chunk.
extension ChunkStore {
    /// Deletes a committed chunk. Its size (for the stored-bytes gauge) is taken with a
    /// `statx` on the engine first, since the lookup may have to read the shard directory.
    public func delete(_ id: ChunkID) async throws(ChunkStoreError) {
        let path = path(of: id)
        let size: Int
        do {
            size = try await FileSystem.size(of: path, on: loop)
            try await FileSystem.unlink(path, on: loop)
        } catch where error.kind == .notFound {
            throw .notFound(id)
        } catch {
            throw .from(error)
        }
        stats.deleted(fileBytes: size)
    }
}
