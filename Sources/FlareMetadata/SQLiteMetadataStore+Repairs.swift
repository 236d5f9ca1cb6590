import FlareCore

extension SQLiteMetadataStore {
    public func beginRepair(key: String, chunk: ChunkID, node: String) async throws {
        let chunk = "\(chunk)"
        try await perform(write: true, durable: false) { database in
            try database.statement("INSERT OR REPLACE INTO repairs(chunk, node, key) VALUES (?1, ?2, ?3)")
                .bind(1, chunk).bind(2, node).bind(3, key).run()
        }
    }

    public func finishRepair(_ repair: ChunkRepair) async throws -> Bool {
        let notBefore = wallClockNanoseconds() + Int64(deletionGraceSeconds) * 1_000_000_000
        return try await perform(write: true) { database in
            try Self.endRepair(chunk: "\(repair.chunk)", node: repair.added, database)
            let manifest = try Self.load(repair.key, database)
            let position = manifest?.createdNanoseconds == repair.createdNanoseconds
                ? manifest?.chunks.firstIndex(where: { $0.id == repair.chunk }) : nil
            // A copy the manifest already names is live: never queue it.
            if let position, manifest!.chunks[position].replicas.contains(repair.added) { return false }
            guard var manifest, let position, let slot = manifest.chunks[position].replicas.firstIndex(of: repair.lost) else {
                // Not the object it was, or not the chunk's layout it was: the new copy is
                // nobody's. It was never readable, so no grace.
                try Self.queueDeletion(chunk: "\(repair.chunk)", node: repair.added, notBefore: 0, database)
                return false
            }
            manifest.chunks[position].replicas[slot] = repair.added
            try database.statement("UPDATE objects SET chunks = ?2 WHERE key = ?1")
                .bind(1, repair.key).bind(2, manifest.encodeChunks()).run()
            // A read that began before this may still be reading the old copy. A lost copy on
            // a node that is gone for good is not queued: nothing could ever delete it.
            if repair.lostCopyReachable {
                try Self.queueDeletion(chunk: "\(repair.chunk)", node: repair.lost, notBefore: notBefore, database)
            }
            return true
        }
    }

    public func abandonRepair(chunk: ChunkID, node: String) async throws {
        let chunk = "\(chunk)"
        try await perform(write: true) { database in
            try Self.endRepair(chunk: chunk, node: node, database)
            try Self.queueDeletion(chunk: chunk, node: node, notBefore: 0, database)
        }
    }

    public func reclaimRepairs() async throws -> Int {
        try await perform(write: true) { database in
            let select = try database.statement("SELECT chunk, node, key FROM repairs")
            var left: [(chunk: String, node: String, key: String)] = []
            while try select.step() { left.append((select.text(0), select.text(1), select.text(2))) }
            select.reset()
            for repair in left {
                let named = try Self.load(repair.key, database)?.chunks.contains {
                    "\($0.id)" == repair.chunk && $0.replicas.contains(repair.node)
                } ?? false
                if !named { try Self.queueDeletion(chunk: repair.chunk, node: repair.node, notBefore: 0, database) }
            }
            try database.execute("DELETE FROM repairs")
            return left.count
        }
    }

    static func endRepair(chunk: String, node: String, _ database: SQLiteDatabase) throws {
        try database.statement("DELETE FROM repairs WHERE chunk = ?1 AND node = ?2").bind(1, chunk).bind(2, node).run()
    }
}
