// A thin wrapper over the system SQLite instead of GRDB: Flare needs a handful of prepared
// statements on one dedicated thread, and the C API keeps the dependency (and CI build
// time) at zero. The wrapper is not thread-safe; SQLiteMetadataStore confines it.
import CSQLite

/// A failed SQLite call.
public struct SQLiteError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public var description: String { "SQLite error \(code): \(message)" }
}

/// One SQLite connection, used from one thread at a time.
final class SQLiteDatabase {
    private(set) var handle: OpaquePointer?
    private var statements: [String: Statement] = [:]

    init(path: String) throws {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let result = sqlite3_open_v2(path, &handle, flags, nil)
        guard result == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw SQLiteError(code: result, message: "\(path): \(message)")
        }
        sqlite3_busy_timeout(handle, 5000)
    }

    deinit {
        statements.removeAll()
        sqlite3_close(handle)
    }

    /// Runs SQL without results (schema, pragmas, transactions).
    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let result = sqlite3_exec(handle, sql, nil, nil, &error)
        if result != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "unknown"
            sqlite3_free(error)
            throw SQLiteError(code: result, message: message)
        }
    }

    /// A cached prepared statement, reset and ready to bind.
    func statement(_ sql: String) throws -> Statement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var raw: OpaquePointer?
        let result = sqlite3_prepare_v2(handle, sql, -1, &raw, nil)
        guard result == SQLITE_OK, let raw else { throw SQLiteError(code: result, message: lastError) }
        let statement = Statement(raw, database: self)
        statements[sql] = statement
        return statement
    }

    /// Resets every cached statement. A statement left on a row (a lookup that hit, a listing
    /// that stopped at its limit) keeps its read transaction open, and every later statement on
    /// this connection would read that transaction's snapshot, blind to newer commits.
    func resetStatements() {
        for statement in statements.values { statement.reset() }
    }

    var lastError: String { String(cString: sqlite3_errmsg(handle)) }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(handle)) }
}

/// A prepared statement; bind with 1-based indices, step through rows.
final class Statement {
    private let raw: OpaquePointer
    private unowned let database: SQLiteDatabase

    init(_ raw: OpaquePointer, database: SQLiteDatabase) {
        self.raw = raw
        self.database = database
    }

    deinit { sqlite3_finalize(raw) }

    func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    @discardableResult
    func bind(_ index: Int32, _ value: Int64) -> Statement {
        sqlite3_bind_int64(raw, index, value)
        return self
    }

    @discardableResult
    func bind(_ index: Int32, _ value: String) -> Statement {
        sqlite3_bind_text(raw, index, value, -1, sqliteTransient)
        return self
    }

    @discardableResult
    func bind(_ index: Int32, _ value: Int64?) -> Statement {
        guard let value else {
            sqlite3_bind_null(raw, index)
            return self
        }
        return bind(index, value)
    }

    /// Steps once; true when a row is available.
    func step() throws -> Bool {
        let result = sqlite3_step(raw)
        switch result {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw SQLiteError(code: result, message: database.lastError)
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws {
        while try step() {}
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }

    /// `nil` for SQL NULL.
    func optionalInt64(_ column: Int32) -> Int64? {
        sqlite3_column_type(raw, column) == SQLITE_NULL ? nil : sqlite3_column_int64(raw, column)
    }

    func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(raw, column) else { return "" }
        return String(cString: pointer)
    }
}

/// SQLITE_TRANSIENT: SQLite copies bound text (the macro does not import into Swift).
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
