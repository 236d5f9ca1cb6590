import FlareCore

extension SQLiteMetadataStore {
    public func manifest(for key: String) async throws -> ObjectManifest? {
        try await perform(write: false) { try Self.load(key, $0) }
    }

    public func commit(_ manifest: ObjectManifest, strays: [(chunk: ChunkID, node: String)]) async throws -> ObjectManifest? {
        precondition(manifest.validate() == nil, "invalid manifest: \(manifest.validate()!)")
        let strays = strays.map { ("\($0.chunk)", $0.node) }
        let notBefore = wallClockNanoseconds()
        return try await perform(write: true) { database in
            // A node removed from the layout while the upload ran is never read again: an
            // object naming it would be unreadable there (and lost with one replica).
            for node in Set(manifest.chunks.flatMap(\.replicas)) where try Self.isRemoved(node, database) {
                throw NodeRemoved(node: node)
            }
            // A part of an upload completed or aborted while it was being sent would be left
            // for ever: refused (its copies are then deleted like any failed upload's).
            if try Self.isOrphanPart(manifest.key, database) { throw MultipartCompletionError.noSuchUpload }
            // A bucket deleted while the upload ran must not get the object back.
            if self.bucketsRequired { try Self.requireBucket(of: manifest.key, database) }
            let replaced = try Self.load(manifest.key, database)
            if let replaced { try self.queueDeletion(of: replaced, database) }
            try Self.endReservations(manifest.chunks.map { "\($0.id)" }, database)
            // Strays were never part of a readable object: no grace needed.
            for (chunk, node) in strays { try Self.queueDeletion(chunk: chunk, node: node, notBefore: notBefore, database) }
            try database.statement("INSERT OR REPLACE INTO objects(key, size, chunk_size, crc32c, created_ns, chunks, attributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .bind(1, manifest.key).bind(2, Int64(manifest.size)).bind(3, Int64(manifest.chunkSize))
                .bind(4, Int64(manifest.crc32c)).bind(5, manifest.createdNanoseconds).bind(6, manifest.encodeChunks())
                .bind(7, manifest.attributes.encode())
                .run()
            return replaced
        }
    }

    public func delete(key: String) async throws -> ObjectManifest? {
        try await perform(write: true) { database in
            guard let existing = try Self.load(key, database) else { return nil }
            try self.queueDeletion(of: existing, database)
            try database.statement("DELETE FROM objects WHERE key = ?1").bind(1, key).run()
            return existing
        }
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ObjectListing {
        try await perform(write: false) { database in
            // Keys with a prefix are contiguous in byte order, starting at the prefix itself.
            let from = max(prefix, startAfter ?? "")
            let statement = try database.statement(
                "SELECT key, size, crc32c, created_ns, attributes FROM objects WHERE key >= ?1 AND key > ?2 ORDER BY key LIMIT ?3")
            statement.bind(1, from).bind(2, startAfter ?? "").bind(3, Int64(limit + 1))
            var entries: [ObjectListing.Entry] = []
            var more = false
            while try statement.step() {
                let key = statement.text(0)
                guard key.utf8.starts(with: prefix.utf8) else { break }
                if entries.count == limit { more = true; break }
                let size = Int(statement.int64(1))
                let manifest = ObjectManifest(key: key, size: size, chunkSize: 0, crc32c: UInt32(statement.int64(2)),
                                              createdNanoseconds: statement.int64(3), chunks: [],
                                              attributes: ObjectAttributes.decode(statement.text(4)) ?? ObjectAttributes())
                entries.append(.init(key: key, size: size, etag: manifest.etag, createdNanoseconds: manifest.createdNanoseconds))
            }
            return ObjectListing(entries: entries, nextStartAfter: more ? entries.last?.key : nil)
        }
    }

    /// Throws ``BucketMissing`` unless the bucket of `key` (`<bucket>/…`) exists; part keys
    /// (`.mpu/…`) and keys without a bucket (tests' own) are not checked.
    static func requireBucket(of key: String, _ database: SQLiteDatabase) throws {
        guard !key.hasPrefix(".mpu/"), let slash = key.firstIndex(of: "/") else { return }
        let bucket = String(key[..<slash])
        let select = try database.statement("SELECT 1 FROM buckets WHERE name = ?1").bind(1, bucket)
        defer { select.reset() }
        guard try select.step() else { throw BucketMissing(bucket: bucket) }
    }

    /// Whether `node` is in the layout as removed.
    static func isRemoved(_ node: String, _ database: SQLiteDatabase) throws -> Bool {
        let select = try database.statement("SELECT 1 FROM nodes WHERE id = ?1 AND state = 'removed'").bind(1, node)
        defer { select.reset() }
        return try select.step()
    }

    static func load(_ key: String, _ database: SQLiteDatabase) throws -> ObjectManifest? {
        let statement = try database.statement("SELECT size, chunk_size, crc32c, created_ns, chunks, attributes FROM objects WHERE key = ?1")
        statement.bind(1, key)
        guard try statement.step() else { return nil }
        guard let chunks = ObjectManifest.decodeChunks(statement.text(4)) else {
            throw SQLiteError(code: 0, message: "manifest of '\(key)' is unreadable")
        }
        guard let attributes = ObjectAttributes.decode(statement.text(5)) else {
            throw SQLiteError(code: 0, message: "attributes of '\(key)' are unreadable")
        }
        return ObjectManifest(key: key, size: Int(statement.int64(0)), chunkSize: Int(statement.int64(1)),
                              crc32c: UInt32(truncatingIfNeeded: statement.int64(2)), createdNanoseconds: statement.int64(3),
                              chunks: chunks, attributes: attributes)
    }
}
