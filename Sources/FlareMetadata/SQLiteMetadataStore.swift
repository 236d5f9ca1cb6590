import CSQLite
import FlareCore
import FlareIO
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
///
/// The schema is in `+Schema`, objects in `+Objects`, reserved chunk ids in
/// `+Reservations`, the deletion queue in `+Deletions`, the two threads in `+Threads`.
public final class SQLiteMetadataStore: MetadataStore, @unchecked Sendable {
    /// Writes grouped into one transaction at most.
    static let groupWritesMax = 256
    /// Requests waiting for either thread at most; past it a request fails at once with
    /// ``MetadataBusy`` (a 503 to the client) instead of the queue growing without end.
    public static let queuedJobsMax = 8192

    public let path: String
    /// Seconds a replaced or deleted object's chunks are kept before deletion.
    public let deletionGraceSeconds: Int
    let database: SQLiteDatabase
    /// Reads only (`query_only`), on the reader thread.
    let reader: SQLiteDatabase
    /// `<path>.lock`, held for the store's life: one process owns a metadata file.
    private let lock = Mutex<ExclusiveFileLock?>(nil)
    let queue = JobQueue(jobsMax: queuedJobsMax)
    let readQueue = JobQueue(jobsMax: queuedJobsMax)
    private var thread = pthread_t()
    private var readerThread = pthread_t()
    private let closed = Mutex(false)

    /// Opens (creating and migrating if needed) the database at `path`. Throws
    /// ``MetadataInUse`` when another store (in this or another process) has it open.
    /// Whether a commit needs the bucket of its key (`<bucket>/…`) to exist, so that an
    /// upload into a bucket deleted meanwhile is refused. Off only for tests of the store's
    /// other parts, which use keys of any shape.
    let bucketsRequired: Bool

    public init(path: String, deletionGraceSeconds: Int = 30, lockPatienceSeconds: Double = 2, bucketsRequired: Bool = true) throws {
        self.path = path
        self.deletionGraceSeconds = deletionGraceSeconds
        self.bucketsRequired = bucketsRequired
        // Start-up treats every reserved chunk id in the file as left by a dead process and
        // queues its copies for deletion: with a second api on the same file, those would be
        // the chunks of the first one's uploads in flight. So a metadata file has one owner.
        guard let owned = try ExclusiveFileLock(path: path + ".lock", patienceSeconds: lockPatienceSeconds) else {
            throw MetadataInUse(path: path)
        }
        do {
            database = try SQLiteDatabase(path: path)
            try database.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            try Self.migrate(database)
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

    /// Finishes queued work and stops the threads. Safe to call twice.
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
}
