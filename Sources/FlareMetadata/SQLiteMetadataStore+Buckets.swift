import FlareCore

/// Buckets: a name and a creation time each; a bucket's objects are the keys under
/// `<bucket>/`, so "empty" is one indexed range probe.
extension SQLiteMetadataStore {
    public func buckets() async throws -> [BucketInfo] {
        try await perform(write: false) { database in
            let select = try database.statement("SELECT name, created_ns, public_read FROM buckets ORDER BY name")
            var buckets: [BucketInfo] = []
            while try select.step() {
                buckets.append(BucketInfo(name: select.text(0), createdNanoseconds: select.int64(1), publicRead: select.int64(2) != 0))
            }
            return buckets
        }
    }

    public func bucket(_ name: String) async throws -> BucketInfo? {
        try await perform(write: false) { database in
            let select = try database.statement("SELECT created_ns, public_read FROM buckets WHERE name = ?1").bind(1, name)
            defer { select.reset() }
            guard try select.step() else { return nil }
            return BucketInfo(name: name, createdNanoseconds: select.int64(0), publicRead: select.int64(1) != 0)
        }
    }

    public func setBucketPublicRead(_ name: String, _ publicRead: Bool) async throws -> Bool {
        try await perform(write: true) { database in
            try database.statement("UPDATE buckets SET public_read = ?2 WHERE name = ?1").bind(1, name).bind(2, Int64(publicRead ? 1 : 0)).run()
            return database.changes > 0
        }
    }

    public func createBucket(_ name: String, createdNanoseconds: Int64) async throws -> Bool {
        precondition(!name.isEmpty && !name.contains("/"), "a bucket name is not empty and has no /")
        return try await perform(write: true) { database in
            try database.statement("INSERT OR IGNORE INTO buckets(name, created_ns) VALUES (?1, ?2)")
                .bind(1, name).bind(2, createdNanoseconds).run()
            return database.changes > 0
        }
    }

    public func deleteBucket(_ name: String) async throws -> BucketDeletion {
        try await perform(write: true) { database in
            let exists = try database.statement("SELECT 1 FROM buckets WHERE name = ?1").bind(1, name)
            defer { exists.reset() }
            guard try exists.step() else { return .missing }
            let any = try database.statement("SELECT 1 FROM objects WHERE key >= ?1 AND key < ?2 LIMIT 1")
                .bind(1, name + "/").bind(2, name + "0")  // "0" is the character after "/"
            defer { any.reset() }
            if try any.step() { return .notEmpty }
            // Uploads in progress would complete into a bucket that is gone.
            let uploads = try database.statement("SELECT 1 FROM uploads WHERE key >= ?1 AND key < ?2 LIMIT 1")
                .bind(1, name + "/").bind(2, name + "0")
            defer { uploads.reset() }
            if try uploads.step() { return .notEmpty }
            try database.statement("DELETE FROM buckets WHERE name = ?1").bind(1, name).run()
            return .deleted
        }
    }
}
