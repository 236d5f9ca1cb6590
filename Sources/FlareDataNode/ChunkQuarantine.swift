import FlareCore
import FlareHTTP
import FlareIO
import FlareMetrics
import Glibc
import Logging
import Synchronization

/// Chunks found corrupt, moved out of `chunks/` into `<data-dir>/quarantine/<id>` so that
/// no read ever serves them again, each with `<id>.reason` beside it (`<found ns> <reason>`).
///
/// One object per node, shared by every loop's ``ChunkStore``: the index of what is
/// quarantined lives in memory (loaded at start-up from the directory) and answers
/// `GET /chunks/corrupt`, which the api's repair reads. The files stay until a
/// `DELETE /chunk/{id}` removes them: they are the evidence of what went bad, and the api
/// deletes them only once it has made a good copy elsewhere.
public final class ChunkQuarantine: Sendable {
    /// One quarantined chunk.
    public struct Entry: Equatable, Sendable {
        public let id: ChunkID
        /// Why it was taken out, e.g. `segment 0 checksum mismatch`.
        public let reason: String
        /// When, in nanoseconds since the Unix epoch.
        public let foundNanoseconds: Int64

        public init(id: ChunkID, reason: String, foundNanoseconds: Int64) {
            self.id = id
            self.reason = reason
            self.foundNanoseconds = foundNanoseconds
        }
    }

    /// The directory's name inside the data directory.
    public static let directoryName = "quarantine"
    /// A reason file longer than this is not one of ours: read no further.
    static let reasonBytesMax = 4096

    /// `<data-dir>/quarantine`.
    public let directory: String
    let metrics: NodeMetrics
    let logger: Logger

    private struct State {
        var entries: [ChunkID: Entry] = [:]
        /// Ids a store is moving right now: two loops that find the same chunk corrupt at
        /// once must not both move it (the second would write a reason for a file it then
        /// cannot find).
        var moving: Set<ChunkID> = []
        /// Moving ids a DELETE removed before the move ended: not to be recorded.
        var deletedWhileMoving: Set<ChunkID> = []
    }

    private let state: Mutex<State>

    init(directory: String, entries: [Entry], metrics: NodeMetrics, logger: Logger) {
        self.directory = directory
        self.metrics = metrics
        self.logger = logger
        state = Mutex(State(entries: Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })))
        updateGauge()
    }

    /// Creates `<dataDirectory>/quarantine` if needed and reads what it holds. Synchronous:
    /// start-up only, before the loops serve (like ``DataDirectory/prepare(_:)``).
    ///
    /// Leftovers of a crash go: `*.tmp` (a reason never renamed into place) and reasons
    /// without their chunk (the crash came between the reason and the chunk's move, so the
    /// chunk is still in `chunks/` and will be found again). A chunk without a reason (its
    /// reason file lost) is listed as such, found at the time its name last changed.
    public static func load(dataDirectory: String, metrics: NodeMetrics, logger: Logger) throws(IOError) -> ChunkQuarantine {
        let directory = "\(dataDirectory)/\(directoryName)"
        try FileSystem.makeDirectories(directory)
        let names = try FileSystem.names(in: directory)
        let chunks = Set(names.compactMap { ChunkID($0) })
        var entries: [Entry] = []
        for name in names {
            let path = "\(directory)/\(name)"
            if let id = ChunkID(name) {
                entries.append(readEntry(id, chunkPath: path, reasonPath: "\(path).reason"))
            } else if isLeftover(name, chunks: chunks) {
                if unlink(path) != 0 {
                    logger.warning("could not remove the leftover \(path): \(IOError(errno: Glibc.errno, operation: "unlink"))")
                }
            }
        }
        return ChunkQuarantine(directory: directory, entries: entries, metrics: metrics, logger: logger)
    }

    /// Every quarantined chunk, in id order.
    public var entries: [Entry] { state.withLock { $0.entries.values.sorted { $0.id < $1.id } } }

    /// How many chunks are in quarantine.
    public var count: Int { state.withLock { $0.entries.count } }

    /// Whether `id` is quarantined.
    public func contains(_ id: ChunkID) -> Bool { state.withLock { $0.entries[id] != nil } }

    /// `quarantine/<id>`.
    public func path(of id: ChunkID) -> String { "\(directory)/\(id)" }

    /// `quarantine/<id>.reason`.
    func reasonPath(of id: ChunkID) -> String { "\(directory)/\(id).reason" }

    /// Claims `id` for a move; `false` when another store is moving it already.
    func beginMove(_ id: ChunkID) -> Bool { state.withLock { $0.moving.insert(id).inserted } }

    /// Ends a move begun with ``beginMove(_:)``, recording `entry` if the chunk was moved —
    /// and is still there: a DELETE may have removed it during the move's directory syncs,
    /// and an entry without its file would be listed in `/chunks/corrupt` until a restart.
    func endMove(_ id: ChunkID, recording entry: Entry?) {
        state.withLock { state in
            state.moving.remove(id)
            let deleted = state.deletedWhileMoving.remove(id) != nil
            if let entry, !deleted { state.entries[id] = entry }
        }
        updateGauge()
    }

    /// Forgets `id` (its files were deleted), also when its move has not ended yet.
    func remove(_ id: ChunkID) {
        state.withLock { state in
            state.entries.removeValue(forKey: id)
            if state.moving.contains(id) { state.deletedWhileMoving.insert(id) }
        }
        updateGauge()
    }

    /// `{"chunks":[{"id":"<32 hex>","reason":"…","found_ns":<int>},…]}` in id order, the
    /// body of `GET /chunks/corrupt`.
    public func json() -> String {
        let items = entries.map { entry in
            "{\"id\":\"\(entry.id)\",\"reason\":\(HTTPErrorBody.quote(entry.reason)),\"found_ns\":\(entry.foundNanoseconds)}"
        }
        return "{\"chunks\":[\(items.joined(separator: ","))]}\n"
    }

    /// The text of a reason file: the time found and the reason on one line.
    static func reasonRecord(_ entry: Entry) -> [UInt8] {
        let reason = entry.reason.map { $0.isNewline ? " " : String($0) }.joined()
        return Array("\(entry.foundNanoseconds) \(reason)\n".utf8)
    }

    private func updateGauge() {
        metrics.gauge("flare_datanode_quarantined_chunks").set(Double(count))
    }

    /// `*.tmp`, or a reason whose chunk is not here. Other names are left alone: not ours.
    private static func isLeftover(_ name: String, chunks: Set<ChunkID>) -> Bool {
        if name.hasSuffix(".tmp") { return true }
        guard name.hasSuffix(".reason"), let id = ChunkID(name.dropLast(".reason".count)) else { return false }
        return !chunks.contains(id)
    }

    private static func readEntry(_ id: ChunkID, chunkPath: String, reasonPath: String) -> Entry {
        if let record = readSmallFile(reasonPath), let space = record.firstIndex(of: " "),
           let found = Int64(record[..<space]) {
            var reason = record[record.index(after: space)...]
            while reason.last == "\n" { reason.removeLast() }
            return Entry(id: id, reason: String(reason), foundNanoseconds: found)
        }
        // A rename sets the file's ctime: the moment it entered the quarantine.
        var info = stat()
        let changed = stat(chunkPath, &info) == 0 ? Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec) : 0
        return Entry(id: id, reason: "no reason recorded (\(reasonPath) missing or unreadable)", foundNanoseconds: changed)
    }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: reasonBytesMax)
        let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: bytes[0..<count], as: UTF8.self)
    }
}
