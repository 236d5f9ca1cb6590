import FlareCore
import FlareIO

/// Listing chunks by age, for the api's garbage collection of orphan chunks.
extension ChunkStore {
    /// Committed chunk ids whose file was last modified at least `seconds` ago by this node's
    /// own clock (so an api whose clock is off cannot make a fresh chunk look old), shard by
    /// shard, each shard sorted. A chunk's file is written in `tmp/` and renamed, and a rename
    /// keeps the modification time: the age is the time since its bytes were written. Each
    /// shard directory is read on the blocking pool, one at a time; a missing one holds no
    /// chunks, any other failure is an error (a listing that silently leaves chunks out would
    /// mislead its reader). Quarantined chunks found at least that long ago are listed too:
    /// a bad copy no manifest names any more (its object was deleted before the repair made
    /// it again) would otherwise stay in `quarantine/` for ever; a DELETE removes it.
    public func ids(olderThanSeconds seconds: Int) async throws(ChunkStoreError) -> [ChunkID] {
        precondition(seconds >= 0)
        let before = wallClockNanoseconds() - Int64(seconds) * 1_000_000_000
        var ids: [ChunkID] = []
        for shard in 0..<256 {
            let entries: [(name: String, modifiedNanoseconds: Int64)]
            do {
                entries = try await FileSystem.namesWithModificationTimes(in: "\(directory)/chunks/\(shardName(shard))", on: loop)
            } catch where error.kind == .notFound {
                continue
            } catch {
                throw .from(error)
            }
            ids += entries.filter { $0.modifiedNanoseconds <= before }.compactMap { ChunkID($0.name) }.sorted()
        }
        let listed = Set(ids)
        ids += quarantine.entries.filter { $0.foundNanoseconds <= before && !listed.contains($0.id) }.map(\.id)
        return ids
    }
}
