import FlareCore

extension SQLiteMetadataStore {
    public func reserveChunkIDs(_ ids: [ChunkID]) async throws {
        let chunks = ids.map { "\($0)" }
        try await perform(write: true, durable: false) { database in
            let insert = try database.statement("INSERT INTO reservations(chunk) VALUES (?1)")
            for chunk in chunks {
                insert.reset()
                try insert.bind(1, chunk).run()
            }
        }
    }

    public func releaseChunkIDs(_ ids: [ChunkID], leftovers: [(chunk: ChunkID, node: String)]) async throws {
        let chunks = ids.map { "\($0)" }
        let copies = leftovers.map { ("\($0.chunk)", $0.node) }
        let notBefore = wallClockNanoseconds()
        try await perform(write: true) { database in
            for (chunk, node) in copies { try Self.queueDeletion(chunk: chunk, node: node, notBefore: notBefore, database) }
            try Self.endReservations(chunks, database)
        }
    }

    public func reclaimReservations(onNodes nodes: [String]) async throws -> Int {
        try await perform(write: true) { database in
            let select = try database.statement("SELECT chunk FROM reservations")
            var chunks: [String] = []
            while try select.step() { chunks.append(select.text(0)) }
            select.reset()
            for chunk in chunks {
                for node in nodes { try Self.queueDeletion(chunk: chunk, node: node, notBefore: 0, database) }
            }
            try database.execute("DELETE FROM reservations")
            return chunks.count
        }
    }

    static func endReservations(_ chunks: [String], _ database: SQLiteDatabase) throws {
        let delete = try database.statement("DELETE FROM reservations WHERE chunk = ?1")
        for chunk in chunks {
            delete.reset()
            try delete.bind(1, chunk).run()
        }
    }
}
