import FlareCore

extension SQLiteMetadataStore {
    public func enqueueDeletions(_ copies: [(chunk: ChunkID, node: String)]) async throws {
        let copies = copies.map { ("\($0.chunk)", $0.node) }
        // Chunks of uploads that never committed were never readable: no grace needed.
        let notBefore = wallClockNanoseconds()
        try await perform(write: true) { database in
            for (chunk, node) in copies { try Self.queueDeletion(chunk: chunk, node: node, notBefore: notBefore, database) }
        }
    }

    public func pendingDeletions(after: Int64, limit: Int) async throws -> [PendingDeletion] {
        try await perform(write: false) { database in
            let statement = try database.statement(
                "SELECT seq, chunk, node FROM deletions WHERE not_before_ns <= ?2 AND seq > ?3 ORDER BY seq LIMIT ?1")
                .bind(1, Int64(limit)).bind(2, wallClockNanoseconds()).bind(3, after)
            var pending: [PendingDeletion] = []
            while try statement.step() {
                guard let chunk = ChunkID(statement.text(1)) else { continue }
                pending.append(PendingDeletion(sequence: statement.int64(0), chunk: chunk, node: statement.text(2)))
            }
            return pending
        }
    }

    public func finishDeletions(_ sequences: [Int64]) async throws {
        try await perform(write: true) { database in
            for sequence in sequences {
                try database.statement("DELETE FROM deletions WHERE seq = ?1").bind(1, sequence).run()
            }
        }
    }

    /// Chunks of replaced and deleted objects wait this long before they are deleted, so
    /// reads that loaded the old manifest just before can still finish.
    func queueDeletion(of manifest: ObjectManifest, _ database: SQLiteDatabase) throws {
        let notBefore = wallClockNanoseconds() + Int64(deletionGraceSeconds) * 1_000_000_000
        for chunk in manifest.chunks {
            for node in chunk.replicas { try Self.queueDeletion(chunk: "\(chunk.id)", node: node, notBefore: notBefore, database) }
        }
    }

    public func isDeletionQueued(chunk: ChunkID, node: String) async throws -> Bool {
        let chunk = "\(chunk)"
        return try await perform(write: false) { database in
            let statement = try database.statement("SELECT 1 FROM deletions WHERE chunk = ?1 AND node = ?2 LIMIT 1")
                .bind(1, chunk).bind(2, node)
            return try statement.step()
        }
    }

    /// Queues one chunk copy for deletion once the wall clock passes `notBefore`.
    static func queueDeletion(chunk: String, node: String, notBefore: Int64, _ database: SQLiteDatabase) throws {
        try database.statement("INSERT INTO deletions(chunk, node, not_before_ns) VALUES (?1, ?2, ?3)")
            .bind(1, chunk).bind(2, node).bind(3, notBefore).run()
    }
}
