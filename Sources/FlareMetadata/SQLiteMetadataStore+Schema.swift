extension SQLiteMetadataStore {
    /// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
    static let migrations = [
        """
        CREATE TABLE objects(
            key TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            chunk_size INTEGER NOT NULL,
            crc32c INTEGER NOT NULL,
            created_ns INTEGER NOT NULL,
            chunks TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE deletions(
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            chunk TEXT NOT NULL,
            node TEXT NOT NULL,
            not_before_ns INTEGER NOT NULL
        );
        """,
        """
        CREATE TABLE intents(
            upload TEXT NOT NULL,
            chunk TEXT NOT NULL,
            node TEXT NOT NULL
        );
        CREATE INDEX intents_by_upload ON intents(upload);
        """,
        // Reserved chunk ids replace per-copy intents. A file is migrated when it is opened,
        // under its lock, so every intent in it was left by a process that died: its copy
        // is queued for deletion, as that process's next start would have done.
        """
        CREATE TABLE reservations(chunk TEXT PRIMARY KEY) WITHOUT ROWID;
        INSERT INTO deletions(chunk, node, not_before_ns) SELECT chunk, node, 0 FROM intents;
        DROP TABLE intents;
        """,
        // The data nodes the api has known, by the id each keeps in its data directory;
        // manifests name replicas by these ids (older files by host:port, renamed at start).
        """
        CREATE TABLE nodes(
            id TEXT PRIMARY KEY,
            address TEXT NOT NULL,
            zone TEXT NOT NULL,
            capacity_bytes INTEGER NOT NULL,
            seen_ns INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
        // Copies a repair is making (a chunk of `key` onto `node`) and has not yet recorded in
        // the manifest: what a start after a crash mid-repair must clean up. The index lets a
        // repair see whether a deletion of the copy it is about to make is still queued.
        """
        CREATE TABLE repairs(
            chunk TEXT NOT NULL,
            node TEXT NOT NULL,
            key TEXT NOT NULL,
            PRIMARY KEY(chunk, node)
        ) WITHOUT ROWID;
        CREATE INDEX deletions_by_copy ON deletions(chunk, node);
        """,
        // The cluster layout: each node's membership (`active`, `draining`, `removed`) and an
        // operator's weight (NULL: its capacity in GiB), and one version number that every
        // change of the layout raises.
        """
        ALTER TABLE nodes ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
        ALTER TABLE nodes ADD COLUMN weight INTEGER;
        CREATE TABLE layout(version INTEGER NOT NULL);
        INSERT INTO layout(version) SELECT count(*) FROM nodes;
        """,
        // Buckets. An object's key in the store is `<bucket>/<key>` (bucket names hold no
        // `/`), so a bucket's objects are one contiguous key range; objects stored before
        // buckets belong to the bucket `flare`, the native API's default. Objects carry their
        // S3 attributes (MD5, content type, stored headers; '' for none). The keys move in two
        // steps: SQLite checks uniqueness row by row, and `abc` would meet an old `flare/abc`
        // on the way; keys hold no control character, so the first step collides with nothing.
        """
        CREATE TABLE buckets(name TEXT PRIMARY KEY, created_ns INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO buckets(name, created_ns) SELECT 'flare', coalesce(min(created_ns), 0) FROM objects HAVING count(*) > 0;
        UPDATE objects SET key = char(1) || key;
        UPDATE objects SET key = 'flare/' || substr(key, 2);
        UPDATE repairs SET key = 'flare/' || key;
        ALTER TABLE objects ADD COLUMN attributes TEXT NOT NULL DEFAULT '';
        """,
        // S3 multipart uploads in progress. Their parts are manifests in `objects` under
        // `.mpu/<id>/<part>` (no bucket name starts with "."), so repair, rebalance and garbage
        // collection treat a part like any object; completing an upload moves the parts'
        // chunks into one manifest.
        """
        CREATE TABLE uploads(
            id TEXT PRIMARY KEY,
            key TEXT NOT NULL,
            created_ns INTEGER NOT NULL,
            attributes TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX uploads_by_key ON uploads(key);
        """,
        // Buckets anyone may read (S3's `public-read` canned ACL): anonymous GET and HEAD of
        // their objects and listings are served; every other request is still signed.
        """
        ALTER TABLE buckets ADD COLUMN public_read INTEGER NOT NULL DEFAULT 0;
        """,
    ]

    static func migrate(_ database: SQLiteDatabase) throws {
        let statement = try database.statement("PRAGMA user_version")
        _ = try statement.step()
        let version = Int(statement.int64(0))
        statement.reset()
        guard version <= migrations.count else {
            throw SQLiteError(code: 0, message: "metadata schema version \(version) is newer than this build knows (\(migrations.count))")
        }
        for (index, migration) in migrations.enumerated().dropFirst(version) {
            try database.execute("BEGIN IMMEDIATE; \(migration) PRAGMA user_version=\(index + 1); COMMIT;")
        }
    }
}
