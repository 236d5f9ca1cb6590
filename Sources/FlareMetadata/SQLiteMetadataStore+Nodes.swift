import FlareCore

extension SQLiteMetadataStore {
    static let nodeColumns = "id, address, zone, capacity_bytes, seen_ns, state, weight"

    static func node(_ statement: Statement) -> KnownNode {
        KnownNode(id: statement.text(0), address: statement.text(1), zone: statement.text(2),
                  capacityBytes: Int(statement.int64(3)), seenNanoseconds: statement.int64(4),
                  membership: NodeMembership(rawValue: statement.text(5)) ?? .active,
                  weight: statement.optionalInt64(6).map { Int($0) })
    }

    public func knownNodes() async throws -> [KnownNode] {
        try await perform(write: false) { database in
            let statement = try database.statement("SELECT \(Self.nodeColumns) FROM nodes ORDER BY id")
            var nodes: [KnownNode] = []
            while try statement.step() { nodes.append(Self.node(statement)) }
            return nodes
        }
    }

    public func recordNode(_ node: KnownNode) async throws {
        try await perform(write: true) { database in
            try database.statement("UPDATE nodes SET address = ?2, zone = ?3, capacity_bytes = ?4, seen_ns = ?5 WHERE id = ?1")
                .bind(1, node.id).bind(2, node.address).bind(3, node.zone).bind(4, Int64(node.capacityBytes))
                .bind(5, node.seenNanoseconds).run()
            guard database.changes == 0 else { return }
            try database.statement("""
                INSERT INTO nodes(id, address, zone, capacity_bytes, seen_ns, state, weight) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """)
                .bind(1, node.id).bind(2, node.address).bind(3, node.zone).bind(4, Int64(node.capacityBytes))
                .bind(5, node.seenNanoseconds).bind(6, node.membership.rawValue).bind(7, node.weight.map(Int64.init)).run()
            try Self.raiseLayoutVersion(database)
        }
    }

    public func layoutVersion() async throws -> Int64 {
        try await perform(write: false) { database in try Self.layoutVersion(database) }
    }

    public func setMembership(_ membership: NodeMembership, of id: String) async throws -> KnownNode {
        try await perform(write: true) { database in
            try database.statement("UPDATE nodes SET state = ?2 WHERE id = ?1").bind(1, id).bind(2, membership.rawValue).run()
            guard database.changes > 0 else { throw LayoutError(.unknownNode, "no data node with id \(id) in the layout") }
            if membership == .removed {
                try database.statement("DELETE FROM deletions WHERE node = ?1").bind(1, id).run()
            }
            try Self.raiseLayoutVersion(database)
            return try Self.node(id, database)
        }
    }

    public func removeNode(_ id: String, ifHoldingNone: Bool) async throws -> KnownNode {
        try await perform(write: true) { database in
            if ifHoldingNone {
                let copies = try Self.copies(onNode: id, database)
                if copies > 0 { throw LayoutError(.conflict, "node \(id) still holds \(copies) chunk copies") }
            }
            try database.statement("UPDATE nodes SET state = 'removed' WHERE id = ?1").bind(1, id).run()
            guard database.changes > 0 else { throw LayoutError(.unknownNode, "no data node with id \(id) in the layout") }
            try database.statement("DELETE FROM deletions WHERE node = ?1").bind(1, id).run()
            try Self.raiseLayoutVersion(database)
            return try Self.node(id, database)
        }
    }

    /// Copies the manifests name on `id` (only manifests that mention it are decoded).
    private static func copies(onNode id: String, _ database: SQLiteDatabase) throws -> Int {
        let select = try database.statement("SELECT key, chunks FROM objects WHERE instr(chunks, ?1) > 0").bind(1, id)
        defer { select.reset() }
        var count = 0
        while try select.step() {
            guard let chunks = ObjectManifest.decodeChunks(select.text(1)) else {
                throw SQLiteError(code: 0, message: "manifest of '\(select.text(0))' is unreadable")
            }
            count += chunks.reduce(0) { $0 + $1.replicas.filter { $0 == id }.count }
        }
        return count
    }

    public func setWeight(_ weight: Int?, of id: String) async throws -> KnownNode {
        precondition(weight.map { $0 > 0 } ?? true, "weights are > 0")
        return try await perform(write: true) { database in
            try database.statement("UPDATE nodes SET weight = ?2 WHERE id = ?1").bind(1, id).bind(2, weight.map(Int64.init)).run()
            guard database.changes > 0 else { throw LayoutError(.unknownNode, "no data node with id \(id) in the layout") }
            try Self.raiseLayoutVersion(database)
            return try Self.node(id, database)
        }
    }

    public func copiesByNode() async throws -> [String: Int] {
        try await perform(write: false) { database in
            let select = try database.statement("SELECT key, chunks FROM objects")
            var copies: [String: Int] = [:]
            while try select.step() {
                guard let chunks = ObjectManifest.decodeChunks(select.text(1)) else {
                    throw SQLiteError(code: 0, message: "manifest of '\(select.text(0))' is unreadable")
                }
                for chunk in chunks {
                    for replica in chunk.replicas { copies[replica, default: 0] += 1 }
                }
            }
            return copies
        }
    }

    public func deletionsByNode() async throws -> [String: Int] {
        try await perform(write: false) { database in
            let select = try database.statement("SELECT node, count(*) FROM deletions GROUP BY node")
            var counts: [String: Int] = [:]
            while try select.step() { counts[select.text(0)] = Int(select.int64(1)) }
            return counts
        }
    }

    private static func node(_ id: String, _ database: SQLiteDatabase) throws -> KnownNode {
        let select = try database.statement("SELECT \(nodeColumns) FROM nodes WHERE id = ?1").bind(1, id)
        defer { select.reset() }
        guard try select.step() else { throw LayoutError(.unknownNode, "no data node with id \(id) in the layout") }
        return node(select)
    }

    private static func layoutVersion(_ database: SQLiteDatabase) throws -> Int64 {
        let select = try database.statement("SELECT version FROM layout")
        defer { select.reset() }
        return try select.step() ? select.int64(0) : 0
    }

    private static func raiseLayoutVersion(_ database: SQLiteDatabase) throws {
        try database.statement("UPDATE layout SET version = version + 1").run()
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
