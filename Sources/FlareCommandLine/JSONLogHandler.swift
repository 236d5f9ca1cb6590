import FlareHTTP
import Glibc
import Logging
import Synchronization

/// `--log-format json`: one JSON object per line on standard error — `time` (UTC, ms),
/// `level`, `logger`, `message`, the source module, then the metadata as string fields (a
/// span's `trace_id`, `span_id`, …; a request's `request`) — for a log collector to index
/// without a parsing rule. Written here: swift-log ships only the text handler.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    /// One line at a time, whole, whatever the thread.
    private static let output = Mutex(())

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private func quote(_ text: String) -> String { HTTPErrorBody.quote(text) }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { $1 } }
        if let own = event.metadata { fields.merge(own) { $1 } }
        var line = "{\"time\":\(quote(Self.now())),\"level\":\"\(event.level)\",\"logger\":\(quote(label)),"
            + "\"message\":\(quote("\(event.message)")),\"source\":\(quote(event.source))"
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) where !["time", "level", "logger", "message", "source"].contains(key) {
            line += ",\(quote(key)):\(quote("\(value)"))"
        }
        line += "}\n"
        let bytes = Array(line.utf8)
        Self.output.withLock { _ in
            bytes.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let wrote = write(2, raw.baseAddress! + done, raw.count - done)
                    if wrote > 0 { done += wrote } else if wrote < 0 && errno == EINTR { continue } else { break }
                }
            }
        }
    }

    /// `2026-12-02T14:03:07.123Z`.
    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var parts = tm()
        var seconds = spec.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):"
            + "\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(spec.tv_nsec / 1_000_000), 3))Z"
    }
}
