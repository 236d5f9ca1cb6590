/// What the scrubber keeps across restarts, in `<data-dir>/scrub-state`, so that a restart
/// neither scrubs again at once nor puts the next pass off by a whole interval:
///
///     since_ns=<when the node first scrubbed this directory, or began to>
///     last_pass_end_ns=<when the last whole pass ended>      (absent before the first)
///
/// Times are nanoseconds since the Unix epoch (wall clock: they must mean the same after a
/// restart, which a monotonic clock's do not). Unknown lines are ignored, so a later
/// version can add some.
public struct ScrubState: Equatable, Sendable {
    /// The file's name inside the data directory.
    public static let fileName = "scrub-state"
    /// More than this is not a state file: read no further.
    static let fileBytesMax = 4096

    /// When this data directory got its first state: the start of its schedule.
    public var sinceNanoseconds: Int64
    /// When the last pass over every chunk ended; `nil` before the first.
    public var lastPassEndNanoseconds: Int64?

    public init(sinceNanoseconds: Int64, lastPassEndNanoseconds: Int64? = nil) {
        self.sinceNanoseconds = sinceNanoseconds
        self.lastPassEndNanoseconds = lastPassEndNanoseconds
    }

    /// When the next pass is due: one interval after the last pass ended, or, before the
    /// first, one interval after the state was created. A time in the future (a clock that
    /// was set back since) counts from `now` instead, so a wrong clock delays a pass by at
    /// most one interval.
    public func nextPassDue(intervalNanoseconds: Int64, now: Int64) -> Int64 {
        let reference = min(lastPassEndNanoseconds ?? sinceNanoseconds, now)
        let (due, overflow) = reference.addingReportingOverflow(intervalNanoseconds)
        return overflow ? .max : due
    }

    /// The file's text.
    public var encoded: String {
        var text = "since_ns=\(sinceNanoseconds)\n"
        if let lastPassEndNanoseconds { text += "last_pass_end_ns=\(lastPassEndNanoseconds)\n" }
        return text
    }

    /// Parses the file's text; `nil` when `since_ns` is missing or a known value is not a number.
    public static func parse(_ text: String) -> ScrubState? {
        var since: Int64?
        var lastEnd: Int64?
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let value = line[line.index(after: equals)...]
            switch line[..<equals] {
            case "since_ns":
                guard let number = Int64(value) else { return nil }
                since = number
            case "last_pass_end_ns":
                guard let number = Int64(value) else { return nil }
                lastEnd = number
            default:
                continue
            }
        }
        guard let since else { return nil }
        return ScrubState(sinceNanoseconds: since, lastPassEndNanoseconds: lastEnd)
    }
}
