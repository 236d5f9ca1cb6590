import FlareCore

/// What garbage collection asks before it deletes a chunk copy no one knows of.
extension SQLiteMetadataStore {
    public func unreferencedChunks(_ chunks: [ChunkID], nodeNames: [String]) async throws -> [ChunkID] {
        guard !chunks.isEmpty else { return [] }
        let names = Set(nodeNames)
        return try await perform(write: false) { database in
            try Self.inReadTransaction(database) {
                var left = Set(chunks)
                let reserved = try database.statement("SELECT chunk FROM reservations")
                while try reserved.step() {
                    if let id = ChunkID(reserved.text(0)) { left.remove(id) }
                }
                for table in ["deletions", "repairs"] {
                    for name in names {
                        let named = try database.statement("SELECT chunk FROM \(table) WHERE node = ?1").bind(1, name)
                        while try named.step() {
                            if let id = ChunkID(named.text(0)) { left.remove(id) }
                        }
                    }
                }
                let objects = try database.statement("SELECT key, chunks FROM objects")
                while !left.isEmpty, try objects.step() {
                    for record in try Self.decodeChunks(key: objects.text(0), objects.text(1))
                    where record.replicas.contains(where: names.contains) {
                        left.remove(record.id)
                    }
                }
                return chunks.filter(left.contains)
            }
        }
    }

    public func isCopyReferenced(chunk: ChunkID, nodeNames: [String]) async throws -> Bool {
        let id = "\(chunk)"
        let names = Set(nodeNames)
        return try await perform(write: false) { database in
            try Self.inReadTransaction(database) {
                if try database.statement("SELECT 1 FROM reservations WHERE chunk = ?1").bind(1, id).step() { return true }
                for name in names {
                    if try database.statement("SELECT 1 FROM deletions WHERE chunk = ?1 AND node = ?2 LIMIT 1")
                        .bind(1, id).bind(2, name).step() { return true }
                    if try database.statement("SELECT 1 FROM repairs WHERE chunk = ?1 AND node = ?2")
                        .bind(1, id).bind(2, name).step() { return true }
                }
                // Only rows that mention the id at all are parsed: for an orphan, none.
                let objects = try database.statement("SELECT key, chunks FROM objects WHERE instr(chunks, ?1) > 0").bind(1, id)
                while try objects.step() {
                    let records = try Self.decodeChunks(key: objects.text(0), objects.text(1))
                    if records.contains(where: { $0.id == chunk && $0.replicas.contains(where: names.contains) }) { return true }
                }
                return false
            }
        }
    }

    /// A manifest's chunk list; a list that does not parse stops the caller, which must not
    /// take a copy for unreferenced because its manifest was unreadable.
    static func decodeChunks(key: String, _ text: String) throws -> [ChunkRecord] {
        guard let records = ObjectManifest.decodeChunks(text) else {
            throw SQLiteError(code: 0, message: "manifest of '\(key)' is unreadable")
        }
        return records
    }

    /// Runs `body`'s reads in one read transaction on the reader's connection: every
    /// statement sees the same commit (WAL keeps it while writers go on), where separate
    /// statements could each see a different one and miss a reference that moved between them.
    static func inReadTransaction<T>(_ database: SQLiteDatabase, _ body: () throws -> T) throws -> T {
        try database.execute("BEGIN")
        do {
            let result = try body()
            database.resetStatements()
            try database.execute("COMMIT")
            return result
        } catch {
            database.resetStatements()
            // The body's error is the one to report; a read transaction has nothing to undo.
            do { try database.execute("ROLLBACK") } catch {}
            throw error
        }
    }
}
