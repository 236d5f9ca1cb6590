import Instrumentation
import W3CTraceContext

/// The W3C trace context (trace id, this span's id, flags) of the span in scope, carried in
/// the task-local `InstrumentationContext` from a request's server span to the spans of its
/// stages and, by the `traceparent` header, to the data nodes they call.
enum TraceContextKey: InstrumentationContextKey {
    typealias Value = TraceContext
    static var nameOverride: String? { "w3c-trace-context" }
}

extension InstrumentationContext {
    /// The trace context a span started here continues.
    public var traceContext: TraceContext? {
        get { self[TraceContextKey.self] }
        set { self[TraceContextKey.self] = newValue }
    }
}

extension TraceContext {
    /// The trace id as 32 lowercase hex digits, as logs show it.
    public var traceIDHex: String { traceID.description }
    /// This span's id as 16 lowercase hex digits.
    public var spanIDHex: String { spanID.description }
}
