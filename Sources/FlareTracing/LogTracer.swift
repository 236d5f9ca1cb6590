import Instrumentation
import Logging
import Synchronization
import Tracing
import W3CTraceContext

/// A tracer that writes each finished span to the log (at `debug`): its name, duration,
/// trace id, span id, parent span id and attributes, in the log's format (text or JSON). It
/// takes and gives W3C `traceparent` headers, so a trace started by a client goes on through
/// the api into every data node it touches. An OTLP exporter (swift-otel) would replace it;
/// its build time on this project's 2-core CI is what keeps it out for now.
public struct LogTracer: Tracer {
    public typealias Span = LogSpan
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// Whether spans are written (the log is at debug): then every request is traced, with a
    /// trace of its own when it brought none.
    public var tracesEveryRequest: Bool { logger.logLevel <= .debug }

    /// Where span and trace ids come from: SplitMix64 seeded once from the system's generator.
    /// Ids need to be unique, not secret, and the system generator costs a getrandom(2) per
    /// 8 bytes — several per request on the small-object path.
    private static let ids = Mutex(SplitMix64(seed: UInt64.random(in: .min ... .max)))

    public func startSpan<Instant: TracerInstant>(_ operationName: String, context: @autoclosure () -> InstrumentationContext,
                                                  ofKind kind: SpanKind, at instant: @autoclosure () -> Instant,
                                                  function: String, file fileID: String, line: UInt) -> LogSpan {
        var context = context()
        let parent = context.traceContext
        // A stage of a request that runs untraced (see `withServerSpan`) stays untraced.
        guard parent != nil || kind == .server else { return LogSpan.untraced }
        let trace = Self.ids.withLock { ids in
            TraceContext(traceID: parent?.traceID ?? TraceID.random(using: &ids), spanID: SpanID.random(using: &ids),
                         flags: parent?.flags ?? .sampled, state: parent?.state ?? TraceState())
        }
        context.traceContext = trace
        return LogSpan(operationName, kind: kind, context: context, trace: trace, parent: parent, start: instant().nanosecondsSinceEpoch,
                       logger: logger)
    }

    public func forceFlush() {}

    public func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract)
        where Extract.Carrier == Carrier {
        guard let parent = extractor.extract(key: "traceparent", from: carrier),
              let trace = try? TraceContext(traceParentHeaderValue: parent, traceStateHeaderValue: extractor.extract(key: "tracestate", from: carrier))
        else { return }
        context.traceContext = trace
    }

    public func inject<Carrier, Inject: Injector>(_ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject)
        where Inject.Carrier == Carrier {
        guard let trace = context.traceContext else { return }
        injector.inject(trace.traceParentHeaderValue, forKey: "traceparent", into: &carrier)
        if let state = trace.traceStateHeaderValue { injector.inject(state, forKey: "tracestate", into: &carrier) }
    }
}

/// One span of a ``LogTracer``; logged once, when it ends.
public final class LogSpan: Tracing.Span {
    private struct State {
        var name: String
        var attributes = SpanAttributes()
        var status: SpanStatus?
        var events: [String] = []
        var ended = false
    }

    public let context: InstrumentationContext
    /// This span's W3C context; nil for ``untraced``.
    public let trace: TraceContext?
    let parent: TraceContext?
    let kind: SpanKind
    let start: UInt64
    let logger: Logger
    private let state: Mutex<State>

    /// The one span every stage of an untraced request gets: it records nothing, carries no
    /// ids, and is never logged.
    static let untraced = LogSpan("untraced", kind: .internal, context: .topLevel, trace: nil, parent: nil, start: 0,
                                  logger: Logger(label: "trace", factory: { _ in SwiftLogNoOpLogHandler() }))

    init(_ name: String, kind: SpanKind, context: InstrumentationContext, trace: TraceContext?, parent: TraceContext?, start: UInt64,
         logger: Logger) {
        self.context = context
        self.trace = trace
        self.parent = parent
        self.kind = kind
        self.start = start
        self.logger = logger
        state = Mutex(State(name: name))
    }

    public var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    public var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { $0.attributes = newValue } }
    }

    public var isRecording: Bool { trace != nil && logger.logLevel <= .debug }

    public func setStatus(_ status: SpanStatus) {
        guard isRecording else { return }
        state.withLock { $0.status = status }
    }

    public func addEvent(_ event: SpanEvent) {
        guard isRecording else { return }
        state.withLock { $0.events.append(event.name) }
    }

    public func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        guard isRecording else { return }
        state.withLock { $0.events.append("error: \(error)") }
    }

    public func addLink(_ link: SpanLink) {}

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard let trace, isRecording else { return }
        let finished = state.withLock { state -> State? in
            guard !state.ended else { return nil }
            state.ended = true
            return state
        }
        guard let finished else { return }
        let milliseconds = Double(instant().nanosecondsSinceEpoch &- start) / 1_000_000
        var metadata: Logger.Metadata = [
            "trace_id": "\(trace.traceIDHex)", "span_id": "\(trace.spanIDHex)", "kind": "\(kind)",
            "duration_ms": "\((milliseconds * 1000).rounded() / 1000)",
        ]
        if let parent { metadata["parent_id"] = "\(parent.spanIDHex)" }
        if let status = finished.status { metadata["status"] = "\(status.code)\(status.message.map { ": \($0)" } ?? "")" }
        if !finished.events.isEmpty { metadata["events"] = "\(finished.events.joined(separator: "; "))" }
        finished.attributes.forEach { key, value in metadata[key] = "\(Self.plain(value))" }
        logger.debug("span \(finished.name)", metadata: metadata)
    }

    /// An attribute's value as it reads: `201`, not `int64(201)`.
    static func plain(_ attribute: SpanAttribute) -> String {
        switch attribute {
        case .int32(let value): return String(value)
        case .int64(let value): return String(value)
        case .double(let value): return String(value)
        case .bool(let value): return String(value)
        case .string(let value): return value
        case .int32Array(let values): return values.map(String.init).joined(separator: ",")
        case .int64Array(let values): return values.map(String.init).joined(separator: ",")
        case .doubleArray(let values): return values.map { String($0) }.joined(separator: ",")
        case .boolArray(let values): return values.map(String.init).joined(separator: ",")
        case .stringArray(let values): return values.joined(separator: ",")
        case .stringConvertible(let value): return value.description
        default: return "\(attribute)"
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a fast generator with a full 2^64 period.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

