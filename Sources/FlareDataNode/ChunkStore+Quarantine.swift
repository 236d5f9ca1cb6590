import FlareCore
import FlareIO
import Glibc

/// Taking a corrupt chunk out of service, and deleting what was taken out.
extension ChunkStore {
    /// Moves a chunk found corrupt from `chunks/` to `quarantine/<id>`, with its reason, so
    /// that from now on reads answer 404 and the api's repair sees it in `GET /chunks/corrupt`.
    ///
    /// Order, for a crash at any point: the reason is written and synced first
    /// (`<id>.reason`), then the chunk renamed over any older quarantined copy of the id, then
    /// the quarantine directory and the shard directory synced. A crash before the rename
    /// leaves a reason without a chunk, which the next start removes (the chunk is still in
    /// `chunks/` and will be found again). The chunk leaves the stored-chunk gauges once it
    /// is renamed.
    ///
    /// Never throws: the caller reports the corruption either way, and a chunk that cannot be
    /// moved (an I/O error) stays where it is, failing its checks on every read, and is logged
    /// and counted. A chunk deleted meanwhile needs nothing. A chunk deleted *and stored
    /// again* between the read that found it bad and this rename would be moved although the
    /// new copy is good; that costs the api one needless repair, never bad bytes served.
    func moveToQuarantine(_ id: ChunkID, _ corruption: ChunkCorruption) async {
        guard quarantine.beginMove(id) else { return }
        var moved: ChunkQuarantine.Entry?
        defer { quarantine.endMove(id, recording: moved) }
        let source = path(of: id)
        let entry = ChunkQuarantine.Entry(id: id, reason: corruption.reason, foundNanoseconds: wallClockNanoseconds())
        let size: Int
        do {
            size = try await FileSystem.size(of: source, on: loop)
            try await FileSystem.replaceContents(of: quarantine.reasonPath(of: id), with: ChunkQuarantine.reasonRecord(entry), on: loop)
        } catch where error.kind == .notFound {
            return
        } catch {
            return quarantineFailed(id, corruption, error)
        }
        do {
            try await FileSystem.rename(source, to: quarantine.path(of: id), on: loop)
        } catch {
            await removeReason(id)
            if error.kind != .notFound { quarantineFailed(id, corruption, error) }
            return
        }
        moved = entry
        stats.deleted(fileBytes: size)
        quarantine.logger.warning("chunk \(id) is corrupt (\(corruption.reason)): moved to \(quarantine.path(of: id)); reads answer 404 and GET /chunks/corrupt lists it until it is deleted")
        do {
            try await FileSystem.syncDirectory(quarantine.directory, on: loop)
            try await shardDirectory(id.shard).sync(dataOnly: false)
        } catch {
            // Out of chunks/ already, so never served; after a crash the old name may come
            // back, and the next read or scrub finds it again.
            quarantineFailed(id, corruption, error)
        }
    }

    /// Deletes the quarantined copy of `id`, if there is one (its chunk file and reason).
    /// - Returns: whether there was a copy to delete.
    public func deleteQuarantined(_ id: ChunkID) async throws(ChunkStoreError) -> Bool {
        // Asked of the disk, not of the index: a move in progress on another loop has renamed
        // the file before it is recorded.
        do {
            try await FileSystem.unlink(quarantine.path(of: id), on: loop)
        } catch where error.kind == .notFound {
            quarantine.remove(id)  // an entry without its file (deleted during its move) goes too
            return false
        } catch {
            throw .from(error)
        }
        await removeReason(id)
        quarantine.remove(id)
        return true
    }

    /// Removes `<id>.reason`; a failure leaves a reason without a chunk, which the next
    /// start removes, so it is only counted.
    private func removeReason(_ id: ChunkID) async {
        do {
            try await FileSystem.unlink(quarantine.reasonPath(of: id), on: loop)
        } catch where error.kind == .notFound {
            return
        } catch {
            stats.cleanupFailed()
        }
    }

    private func quarantineFailed(_ id: ChunkID, _ corruption: ChunkCorruption, _ error: IOError) {
        quarantine.metrics.counter("flare_datanode_errors_total", ["kind": "quarantine_\(error.name)"]).increment()
        quarantine.logger.error("chunk \(id) is corrupt (\(corruption.reason)) but could not be quarantined: \(error)")
    }
}
