import CSQLite
import FlareCore
import Dispatch
import Glibc
import Synchronization

/// A metadata file already owned by another api process (or another store in this one).
public struct MetadataInUse: Error, CustomStringConvertible {
    public let path: String
    public var description: String {
        "metadata \(path) is in use by another api process (it holds \(path).lock); give each api its own --metadata"
    }
}

/// The embedded metadata store: SQLite in WAL mode with `synchronous=FULL`. Writes are owned
/// by one thread and grouped: it takes every queued write, runs them in one transaction (a
/// savepoint each, so one failure does not fail the others), and commits once — one fsync
/// for the whole group — before any caller hears back. Reads run on a second thread with a
/// connection of their own: WAL lets them read the last commit while a group is being
/// written and synced, so a GET's manifest lookup never queues behind an fsync.
public final class SQLiteMetadataStore: MetadataStore, @unchecked Sendable {
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
    ]
    /// Writes grouped into one transaction at most.
    static let groupWritesMax = 256

    public let path: String
    /// Seconds a replaced or deleted object's chunks are kept before deletion.
    public let deletionGraceSeconds: Int
    private let database: SQLiteDatabase
    /// Reads only (`query_only`), on the reader thread.
    private let reader: SQLiteDatabase
    /// `<path>.lock`, held for the store's life: one process owns a metadata file.
    private let lock = Mutex<ExclusiveFileLock?>(nil)
    private let queue = JobQueue()
    private let readQueue = JobQueue()
    private var thread = pthread_t()
    private var readerThread = pthread_t()

    /// Opens (creating and migrating if needed) the database at `path`. Throws
    /// ``MetadataInUse`` when another store (in this or another process) has it open.
    public init(path: String, deletionGraceSeconds: Int = 30, lockPatienceSeconds: Double = 2) throws {
        self.path = path
        self.deletionGraceSeconds = deletionGraceSeconds
        // Start-up treats every upload intent in the file as left by a dead process and queues
        // its chunks for deletion: with a second api on the same file, those would be the
        // chunks of the first one's uploads in flight. So a metadata file has one owner.
        guard let owned = try ExclusiveFileLock(path: path + ".lock", patienceSeconds: lockPatienceSeconds) else {
            throw MetadataInUse(path: path)
        }
        do {
            database = try SQLiteDatabase(path: path)
            try database.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            try Self.migrate(database)
            // Intents left by a previous process belong to uploads that died with it.
            try database.execute("""
                BEGIN IMMEDIATE;
                INSERT INTO deletions(chunk, node, not_before_ns) SELECT chunk, node, 0 FROM intents;
                DELETE FROM intents;
                COMMIT;
                """)
            // Opened after the migrations, so it never sees an older schema.
            reader = try SQLiteDatabase(path: path)
            try reader.execute("PRAGMA query_only=ON;")
        } catch {
            withExtendedLifetime(owned) {}  // released when the failed store goes
            throw error
        }
        lock.withLock { $0 = owned }
        thread = Self.startThread(self) { $0.work() }
        readerThread = Self.startThread(self) { $0.read() }
    }

    /// A thread that runs `body` with the store, which it keeps alive until `body` returns.
    private static func startThread(_ store: SQLiteMetadataStore, _ body: @escaping (SQLiteMetadataStore) -> Void) -> pthread_t {
        final class Start {
            let store: SQLiteMetadataStore
            let body: (SQLiteMetadataStore) -> Void
            init(_ store: SQLiteMetadataStore, _ body: @escaping (SQLiteMetadataStore) -> Void) {
                self.store = store
                self.body = body
            }
        }
        var thread = pthread_t()
        let start = Unmanaged.passRetained(Start(store, body))
        let result = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            start.body(start.store)
            return nil
        }, start.toOpaque())
        precondition(result == 0, "cannot start a metadata thread")
        return thread
    }

    private let closed = Mutex(false)

    /// Finishes queued work and stops the thread. Safe to call twice.
    public func close() {
        let first = closed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        queue.stop()
        readQueue.stop()
        pthread_join(thread, nil)
        pthread_join(readerThread, nil)
        lock.withLock { $0 = nil }
    }

    static func migrate(_ database: SQLiteDatabase) throws {
        let statement = try database.statement("PRAGMA user_version")
        _ = try statement.step()
        let version = Int(statement.int64(0))
        guard version <= migrations.count else {
            throw SQLiteError(code: 0, message: "metadata schema version \(version) is newer than this build knows (\(migrations.count))")
        }
        for (index, migration) in migrations.enumerated().dropFirst(version) {
            try database.execute("BEGIN IMMEDIATE; \(migration) PRAGMA user_version=\(index + 1); COMMIT;")
        }
    }

    // MARK: - MetadataStore

    public func manifest(for key: String) async throws -> ObjectManifest? {
        try await perform(write: false) { try Self.load(key, $0) }
    }

    public func commit(_ manifest: ObjectManifest, upload: String?) async throws -> ObjectManifest? {
        precondition(manifest.validate() == nil, "invalid manifest: \(manifest.validate()!)")
        return try await perform(write: true) { database in
            let replaced = try Self.load(manifest.key, database)
            if let replaced { try self.queueDeletion(of: replaced, database) }
            if let upload { try self.endIntents(of: upload, keeping: manifest, database) }
            try database.statement("INSERT OR REPLACE INTO objects(key, size, chunk_size, crc32c, created_ns, chunks) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .bind(1, manifest.key).bind(2, Int64(manifest.size)).bind(3, Int64(manifest.chunkSize))
                .bind(4, Int64(manifest.crc32c)).bind(5, manifest.createdNanoseconds).bind(6, manifest.encodeChunks())
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
                "SELECT key, size, crc32c, created_ns FROM objects WHERE key >= ?1 AND key > ?2 ORDER BY key LIMIT ?3")
            statement.bind(1, from).bind(2, startAfter ?? "").bind(3, Int64(limit + 1))
            var entries: [ObjectListing.Entry] = []
            var more = false
            while try statement.step() {
                let key = statement.text(0)
                guard key.utf8.starts(with: prefix.utf8) else { break }
                if entries.count == limit { more = true; break }
                let size = Int(statement.int64(1))
                let manifest = ObjectManifest(key: key, size: size, chunkSize: 0, crc32c: UInt32(statement.int64(2)),
                                              createdNanoseconds: statement.int64(3), chunks: [])
                entries.append(.init(key: key, size: size, etag: manifest.etag, createdNanoseconds: manifest.createdNanoseconds))
            }
            return ObjectListing(entries: entries, nextStartAfter: more ? entries.last?.key : nil)
        }
    }

    public func recordIntent(upload: String, chunk: ChunkID, node: String) async throws {
        try await perform(write: true, durable: false) { database in
            try database.statement("INSERT INTO intents(upload, chunk, node) VALUES (?1, ?2, ?3)")
                .bind(1, upload).bind(2, "\(chunk)").bind(3, node).run()
        }
    }

    public func abandonUpload(_ upload: String, leftovers: [(chunk: ChunkID, node: String)]) async throws {
        let copies = leftovers.map { ($0.chunk, $0.node) }
        let notBefore = wallClockNanoseconds()
        try await perform(write: true) { database in
            for (chunk, node) in copies { try Self.queueDeletion(chunk: "\(chunk)", node: node, notBefore: notBefore, database) }
            try database.statement("DELETE FROM intents WHERE upload = ?1").bind(1, upload).run()
        }
    }

    /// Ends a committing upload's intents: copies not in the manifest (attempts that failed
    /// over to another node) are queued for deletion.
    private func endIntents(of upload: String, keeping manifest: ObjectManifest, _ database: SQLiteDatabase) throws {
        let kept = Set(manifest.chunks.flatMap { chunk in chunk.replicas.map { "\(chunk.id) \($0)" } })
        let statement = try database.statement("SELECT chunk, node FROM intents WHERE upload = ?1").bind(1, upload)
        var stray: [(String, String)] = []
        while try statement.step() {
            let copy = (statement.text(0), statement.text(1))
            if !kept.contains("\(copy.0) \(copy.1)") { stray.append(copy) }
        }
        let notBefore = wallClockNanoseconds()
        for (chunk, node) in stray { try Self.queueDeletion(chunk: chunk, node: node, notBefore: notBefore, database) }
        try database.statement("DELETE FROM intents WHERE upload = ?1").bind(1, upload).run()
    }

    public func enqueueDeletions(_ copies: [(chunk: ChunkID, node: String)]) async throws {
        let copies = copies.map { ($0.chunk, $0.node) }
        // Chunks of uploads that never committed were never readable: no grace needed.
        let notBefore = wallClockNanoseconds()
        try await perform(write: true) { database in
            for (chunk, node) in copies { try Self.queueDeletion(chunk: "\(chunk)", node: node, notBefore: notBefore, database) }
        }
    }

    public func pendingDeletions(limit: Int) async throws -> [PendingDeletion] {
        try await perform(write: false) { database in
            let statement = try database.statement("SELECT seq, chunk, node FROM deletions WHERE not_before_ns <= ?2 ORDER BY seq LIMIT ?1")
                .bind(1, Int64(limit)).bind(2, wallClockNanoseconds())
            var pending: [PendingDeletion] = []
            while try statement.step() {
                guard let chunk = ChunkID(statement.text(1)) else { continue }
                pending.append(PendingDeletion(sequence: statement.int64(0), chunk: chunk, node: statement.text(2)))
            }
            return pending
        }
    }

    public func finishDeletions(_ sequences: [Int64]) async throws {
        try await perform(write: true) { database in
            for sequence in sequences {
                try database.statement("DELETE FROM deletions WHERE seq = ?1").bind(1, sequence).run()
            }
        }
    }

    // MARK: - Rows

    private static func load(_ key: String, _ database: SQLiteDatabase) throws -> ObjectManifest? {
        let statement = try database.statement("SELECT size, chunk_size, crc32c, created_ns, chunks FROM objects WHERE key = ?1")
        statement.bind(1, key)
        guard try statement.step() else { return nil }
        guard let chunks = ObjectManifest.decodeChunks(statement.text(4)) else {
            throw SQLiteError(code: 0, message: "manifest of '\(key)' is unreadable")
        }
        return ObjectManifest(key: key, size: Int(statement.int64(0)), chunkSize: Int(statement.int64(1)),
                              crc32c: UInt32(truncatingIfNeeded: statement.int64(2)), createdNanoseconds: statement.int64(3),
                              chunks: chunks)
    }

    /// Chunks of replaced and deleted objects wait this long before they are deleted, so
    /// reads that loaded the old manifest just before can still finish.
    private func queueDeletion(of manifest: ObjectManifest, _ database: SQLiteDatabase) throws {
        let notBefore = wallClockNanoseconds() + Int64(deletionGraceSeconds) * 1_000_000_000
        for chunk in manifest.chunks {
            for node in chunk.replicas { try Self.queueDeletion(chunk: "\(chunk.id)", node: node, notBefore: notBefore, database) }
        }
    }

    /// Queues one chunk copy for deletion once the wall clock passes `notBefore`.
    private static func queueDeletion(chunk: String, node: String, notBefore: Int64, _ database: SQLiteDatabase) throws {
        try database.statement("INSERT INTO deletions(chunk, node, not_before_ns) VALUES (?1, ?2, ?3)")
            .bind(1, chunk).bind(2, node).bind(3, notBefore).run()
    }

    // MARK: - The metadata threads

    private func perform<T: Sendable>(write: Bool, durable: Bool = true,
                                      _ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let box = ResultBox<T>()
            (write ? queue : readQueue).push(Job(write: write, durable: durable,
                           execute: { database in
                               do {
                                   box.result = .success(try body(database))
                                   return true
                               } catch {
                                   box.result = .failure(error)
                                   return false
                               }
                           },
                           fail: { error in box.result = .failure(error) },
                           deliver: { continuation.resume(with: box.result!) }))
        }
    }

    /// The reader thread: each read is one statement, which sees the last commit finished
    /// when it started, provided no earlier statement still holds an older snapshot: every
    /// statement is reset after each read.
    private func read() {
        while let jobs = readQueue.takeAll() {
            for job in jobs {
                _ = job.execute(reader)
                reader.resetStatements()
                job.deliver()
            }
        }
    }

    /// The writer thread.
    private func work() {
        while let jobs = queue.takeAll() {
            var index = 0
            while index < jobs.count {
                precondition(jobs[index].write, "a read on the writer's queue")
                var group: [Job] = []
                let durable = jobs[index].durable
                while index < jobs.count && jobs[index].write && jobs[index].durable == durable && group.count < Self.groupWritesMax {
                    group.append(jobs[index])
                    index += 1
                }
                runGroup(group, durable: durable)
            }
        }
    }

    /// One transaction for a group of writes; each in its own savepoint. A non-durable
    /// group commits without fsync (it reaches the OS, so it survives a process crash);
    /// the next durable commit makes it durable too.
    private func runGroup(_ group: [Job], durable: Bool) {
        do {
            try database.execute(durable ? "PRAGMA synchronous=FULL; BEGIN IMMEDIATE" : "PRAGMA synchronous=OFF; BEGIN IMMEDIATE")
        } catch {
            group.forEach { $0.fail(error); $0.deliver() }
            return
        }
        for job in group {
            do {
                try database.execute("SAVEPOINT job")
                if !job.execute(database) {
                    try database.execute("ROLLBACK TO job; RELEASE job")
                } else {
                    try database.execute("RELEASE job")
                }
            } catch {
                job.fail(error)
            }
        }
        do {
            try database.execute("COMMIT")
        } catch {
            // Nothing of the group is durable: every caller hears the failure.
            do { try database.execute("ROLLBACK") } catch {}
            group.forEach { $0.fail(error) }
        }
        database.resetStatements()
        group.forEach { $0.deliver() }
    }
}

/// A unit of work for a metadata thread: `execute` runs it (inside the group's
/// transaction for writes) and says whether it succeeded; `deliver` resumes the caller.
struct Job: @unchecked Sendable {
    let write: Bool
    /// Whether the write must be on stable storage before the caller hears back.
    var durable = true
    let execute: (SQLiteDatabase) -> Bool
    let fail: (Error) -> Void
    let deliver: () -> Void
}

final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// A metadata thread's inbox.
final class JobQueue: @unchecked Sendable {
    private let jobs = Mutex<(pending: [Job], stopping: Bool)>(([], false))
    private let signal = DispatchSemaphore(value: 0)

    func push(_ job: Job) {
        jobs.withLock { $0.pending.append(job) }
        signal.signal()
    }

    /// Every queued job, waiting for one; `nil` once stopped and drained.
    func takeAll() -> [Job]? {
        while true {
            signal.wait()
            let (taken, stopping) = jobs.withLock { state -> ([Job], Bool) in
                defer { state.pending.removeAll(keepingCapacity: true) }
                return (state.pending, state.stopping)
            }
            if !taken.isEmpty { return taken }
            if stopping { return nil }
        }
    }

    func stop() {
        jobs.withLock { $0.stopping = true }
        signal.signal()
    }
}

/// Wall-clock time in nanoseconds since the Unix epoch.
public func wallClockNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
