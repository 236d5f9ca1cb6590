import ArgumentParser
import FlareIO
import FlareTracing
import Logging
import Tracing

/// The flags every Flare node takes for its runtime: the I/O engine, the event-loop
/// threads and the log level. `api` and `datanode` include them with `@OptionGroup`.
public struct RuntimeOptions: ParsableArguments {
    @Option(help: "I/O engine: auto (io_uring if it works here, else epoll), uring or epoll. Overrides FLARE_IO.")
    public var io: String?

    @Option(help: "Event-loop threads (default: one per core).")
    public var threads: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (debug: every span of a request's trace too).")
    public var logLevel = "info"

    @Option(name: .customLong("log-format"), help: "text (one line per event) or json (one JSON object per line, metadata as fields).")
    public var logFormat = "text"

    public init() {}

    public func validate() throws {
        if let io, IOEngineKind(parsing: io) == nil { throw ValidationError("--io must be auto, uring or epoll, not '\(io)'") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be 1…256") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format must be text or json, not '\(logFormat)'") }
    }

    /// The engine `--io` names, else the one `FLARE_IO` names, else `auto`.
    /// - Throws: `ValidationError` when `FLARE_IO` names no engine (`--io` is checked by
    ///   ``validate()``), so the process exits with usage text like any bad flag.
    public func engine() throws -> IOEngineKind {
        if let io, let kind = IOEngineKind(parsing: io) { return kind }
        do {
            return try IOEngineKind.fromEnvironment()
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Sends every logger's lines to standard error at `--log-level`, in `--log-format`, and
    /// makes spans go to the log too (``LogTracer``, logger `trace`). Call once, first thing in
    /// `run()`: swift-log and the instrumentation system allow one bootstrap per process.
    public func bootstrapLogging() {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        InstrumentationSystem.bootstrap(LogTracer(logger: Logger(label: "trace")))
    }
}
