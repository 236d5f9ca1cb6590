import FlareCore

extension SQLiteMetadataStore {
    public func knownNodes() async throws -> [KnownNode] {
        try await perform(write: false) { database in
            let statement = try database.statement("SELECT id, address, zone, capacity_bytes, seen_ns FROM nodes ORDER BY id")
            var nodes: [KnownNode] = []
            while try statement.step() {
                nodes.append(KnownNode(id: statement.text(0), address: statement.text(1), zone: statement.text(2),
                                       capacityBytes: Int(statement.int64(3)), seenNanoseconds: statement.int64(4)))
            }
            return nodes
        }
    }

    public func recordNode(_ node: KnownNode) async throws {
        try await perform(write: true) { database in
            try database.statement("""
                INSERT INTO nodes(id, address, zone, capacity_bytes, seen_ns) VALUES (?1, ?2, ?3, ?4, ?5)
                ON CONFLICT(id) DO UPDATE SET address = ?2, zone = ?3, capacity_bytes = ?4, seen_ns = ?5
                """)
                .bind(1, node.id).bind(2, node.address).bind(3, node.zone).bind(4, Int64(node.capacityBytes))
                .bind(5, node.seenNanoseconds).run()
        }
    }

    public func renameReplicas(address: String, to id: String) async throws -> Int {
        try await perform(write: true) { database in
            // Only rows that mention the address at all are parsed; the rename itself is exact.
            let select = try database.statement("SELECT key, chunks FROM objects WHERE instr(chunks, ?1) > 0").bind(1, address)
            var changed: [(String, String)] = []
            while try select.step() {
                let key = select.text(0)
                guard var chunks = ObjectManifest.decodeChunks(select.text(1)) else {
                    throw SQLiteError(code: 0, message: "manifest of '\(key)' is unreadable")
                }
                var renamed = false
                for index in chunks.indices {
                    for (position, replica) in chunks[index].replicas.enumerated() where replica == address {
                        chunks[index].replicas[position] = id
                        renamed = true
                    }
                }
                if renamed {
                    let manifest = ObjectManifest(key: key, size: 0, chunkSize: 0, crc32c: 0, createdNanoseconds: 0, chunks: chunks)
                    changed.append((key, manifest.encodeChunks()))
                }
            }
            select.reset()
            let update = try database.statement("UPDATE objects SET chunks = ?2 WHERE key = ?1")
            for (key, chunks) in changed {
                update.reset()
                try update.bind(1, key).bind(2, chunks).run()
            }
            try database.statement("UPDATE deletions SET node = ?2 WHERE node = ?1").bind(1, address).bind(2, id).run()
            return changed.count
        }
    }
}
