import FlareCore

/// S3 multipart uploads: the upload in `uploads`, its parts as manifests under
/// `.mpu/<id>/<part>`; completing one is a metadata operation.
extension SQLiteMetadataStore {
    public func createUpload(_ upload: MultipartUpload) async throws {
        try await perform(write: true) { database in
            try database.statement("INSERT INTO uploads(id, key, created_ns, attributes) VALUES (?1, ?2, ?3, ?4)")
                .bind(1, upload.id).bind(2, upload.key).bind(3, upload.createdNanoseconds).bind(4, upload.attributes.encode()).run()
        }
    }

    public func upload(_ id: String) async throws -> MultipartUpload? {
        try await perform(write: false) { database in try Self.upload(id, database) }
    }

    public func uploads(prefix: String) async throws -> [MultipartUpload] {
        try await perform(write: false) { database in
            let select = try database.statement("SELECT id, key, created_ns, attributes FROM uploads WHERE key >= ?1 ORDER BY key, id")
                .bind(1, prefix)
            defer { select.reset() }
            var uploads: [MultipartUpload] = []
            while try select.step() {
                let key = select.text(1)
                guard key.utf8.starts(with: prefix.utf8) else { break }
                uploads.append(MultipartUpload(id: select.text(0), key: key, createdNanoseconds: select.int64(2),
                                               attributes: ObjectAttributes.decode(select.text(3)) ?? ObjectAttributes()))
            }
            return uploads
        }
    }

    public func completeUpload(_ id: String, parts: [(number: Int, etag: String)], partSizeMin: Int,
                               etag: String) async throws -> ObjectManifest {
        try await perform(write: true) { database in
            guard let upload = try Self.upload(id, database) else { throw MultipartCompletionError.noSuchUpload }
            if self.bucketsRequired { try Self.requireBucket(of: upload.key, database) }
            guard !parts.isEmpty else { throw MultipartCompletionError.invalidPart(0) }
            for (earlier, later) in zip(parts, parts.dropFirst()) where later.number <= earlier.number {
                throw MultipartCompletionError.invalidPartOrder
            }
            var manifests: [ObjectManifest] = []
            for (position, part) in parts.enumerated() {
                guard let manifest = try Self.load(MultipartUpload.partKey(id, part.number), database),
                      let md5 = manifest.attributes.md5, md5 == part.etag.lowercased() else {
                    throw MultipartCompletionError.invalidPart(part.number)
                }
                if position < parts.count - 1 && manifest.size < partSizeMin { throw MultipartCompletionError.entityTooSmall(part.number) }
                manifests.append(manifest)
            }
            var chunks: [ChunkRecord] = []
            var crc = CRC32C.checksum(UnsafeRawBufferPointer(start: nil, count: 0)), size = 0
            for manifest in manifests {
                for var chunk in manifest.chunks {
                    chunk.index = chunks.count
                    chunks.append(chunk)
                }
                crc = size == 0 ? manifest.crc32c : CRC32C.combine(crc, manifest.crc32c, lengthB: manifest.size)
                size += manifest.size
            }
            var attributes = upload.attributes
            attributes.md5 = etag
            let object = ObjectManifest(key: upload.key, size: size, chunkSize: manifests.map(\.chunkSize).max() ?? 1, crc32c: crc,
                                        createdNanoseconds: wallClockNanoseconds(), chunks: chunks, attributes: attributes)
            precondition(object.validate() == nil, "assembled manifest: \(object.validate()!)")
            if let replaced = try Self.load(upload.key, database) { try self.queueDeletion(of: replaced, database) }
            // Parts not listed: their chunks are nobody's now.
            let used = Set(parts.map { MultipartUpload.partKey(id, $0.number) })
            for part in try Self.partKeys(id, database) where !used.contains(part) {
                if let unused = try Self.load(part, database) { try self.queueDeletion(of: unused, database) }
            }
            try Self.deleteParts(id, database)
            try database.statement("INSERT OR REPLACE INTO objects(key, size, chunk_size, crc32c, created_ns, chunks, attributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .bind(1, object.key).bind(2, Int64(object.size)).bind(3, Int64(object.chunkSize)).bind(4, Int64(object.crc32c))
                .bind(5, object.createdNanoseconds).bind(6, object.encodeChunks()).bind(7, object.attributes.encode()).run()
            try database.statement("DELETE FROM uploads WHERE id = ?1").bind(1, id).run()
            return object
        }
    }

    public func abortUpload(_ id: String) async throws -> Bool {
        try await perform(write: true) { database in
            guard try Self.upload(id, database) != nil else { return false }
            for part in try Self.partKeys(id, database) {
                if let manifest = try Self.load(part, database) { try self.queueDeletion(of: manifest, database) }
            }
            try Self.deleteParts(id, database)
            try database.statement("DELETE FROM uploads WHERE id = ?1").bind(1, id).run()
            return true
        }
    }

    static func upload(_ id: String, _ database: SQLiteDatabase) throws -> MultipartUpload? {
        let select = try database.statement("SELECT key, created_ns, attributes FROM uploads WHERE id = ?1").bind(1, id)
        defer { select.reset() }
        guard try select.step() else { return nil }
        return MultipartUpload(id: id, key: select.text(0), createdNanoseconds: select.int64(1),
                               attributes: ObjectAttributes.decode(select.text(2)) ?? ObjectAttributes())
    }

    /// Whether a key is a part of an upload that is no longer in progress (completed or
    /// aborted while the part was being sent): such a part must not be committed.
    static func isOrphanPart(_ key: String, _ database: SQLiteDatabase) throws -> Bool {
        guard key.hasPrefix(".mpu/") else { return false }
        let id = key.dropFirst(".mpu/".count).prefix { $0 != "/" }
        return try upload(String(id), database) == nil
    }

    private static func partKeys(_ id: String, _ database: SQLiteDatabase) throws -> [String] {
        let prefix = MultipartUpload.partPrefix(id)
        let select = try database.statement("SELECT key FROM objects WHERE key >= ?1 AND key < ?2 ORDER BY key")
            .bind(1, prefix).bind(2, String(prefix.dropLast()) + "0")  // "0" follows "/"
        defer { select.reset() }
        var keys: [String] = []
        while try select.step() { keys.append(select.text(0)) }
        return keys
    }

    private static func deleteParts(_ id: String, _ database: SQLiteDatabase) throws {
        let prefix = MultipartUpload.partPrefix(id)
        try database.statement("DELETE FROM objects WHERE key >= ?1 AND key < ?2")
            .bind(1, prefix).bind(2, String(prefix.dropLast()) + "0").run()
    }
}
