import FlareCore
import FlareIO

/// Deleting a committed chunk.
extension ChunkStore {
    /// Deletes a committed chunk.
    public func delete(_ id: ChunkID) async throws(ChunkStoreError) {
        let path = path(of: id)
        let size = DirectoryListing.fileSize(path)
        do {
            try await FileSystem.unlink(path, on: loop)
        } catch where error.kind == .notFound {
            throw .notFound(id)
        } catch {
            throw .from(error)
        }
        stats.deleted(fileBytes: size ?? 0)
    }
}
