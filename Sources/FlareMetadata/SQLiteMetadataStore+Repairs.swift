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
            guard var manifest = try Self.load(repair.key, database), manifest.createdNanoseconds == repair.createdNanoseconds,
                  let position = manifest.chunks.firstIndex(where: { $0.id == repair.chunk }) else {
                // Not the object it was: the new copy is nobody's. It was never readable, so no grace.
                try Self.queueDeletion(chunk: "\(repair.chunk)", node: repair.added, notBefore: 0, database)
                return false
            }
            var replicas = manifest.chunks[position].replicas
            // A copy the manifest already names is live: never queue it.
            if replicas.contains(repair.added) { return false }
            // A node removed from the layout while the copy was made is never read again.
            if try Self.isRemoved(repair.added, database) {
                try Self.queueDeletion(chunk: "\(repair.chunk)", node: repair.added, notBefore: 0, database)
                return false
            }
            if let lost = repair.lost, let slot = replicas.firstIndex(of: lost) {
                replicas[slot] = repair.added
            } else if repair.lost == nil && replicas.count <= repair.copiesBefore {
                replicas.append(repair.added)
            } else {
                // The chunk moved on meanwhile (its lost copy replaced, or a copy added
                // elsewhere): the new copy is nobody's.
                try Self.queueDeletion(chunk: "\(repair.chunk)", node: repair.added, notBefore: 0, database)
                return false
            }
            manifest.chunks[position].replicas = replicas
            try database.statement("UPDATE objects SET chunks = ?2 WHERE key = ?1")
                .bind(1, repair.key).bind(2, manifest.encodeChunks()).run()
            // A read that began before this may still be reading the old copy. A lost copy on
            // a node that is gone for good is not queued: nothing could ever delete it.
            if let lost = repair.lost, repair.lostCopyReachable {
                try Self.queueDeletion(chunk: "\(repair.chunk)", node: lost, notBefore: notBefore, database)
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
