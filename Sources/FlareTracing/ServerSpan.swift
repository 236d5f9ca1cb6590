import FlareHTTP
import Instrumentation
import Tracing

/// Runs `body` in a server span named `name` that continues the trace of the request's
/// `traceparent` (a client's, or an api node's on a data node), or — when the tracer logs
/// spans (`--log-level debug`) — starts one; the span's trace id goes to the response for
/// the access log, its status code to the span. A request without a traceparent on a node
/// that does not log spans runs untraced: no ids, no headers, nothing per chunk (traced,
/// every small GET cost 10–17 % of its rate here).
public func withServerSpan<T>(_ name: String, _ request: HTTPServerRequest, _ response: HTTPResponseWriter,
                              _ body: (any Span) async throws -> T) async rethrows -> T {
    guard let tracer = InstrumentationSystem.tracer as? LogTracer,
          tracer.tracesEveryRequest || request.headers["traceparent"] != nil else {
        return try await body(NoOpTracer.NoOpSpan(context: .topLevel))
    }
    var context = InstrumentationContext.topLevel
    InstrumentationSystem.instrument.extract(request.headers, into: &context, using: HTTPHeadersExtractor())
    return try await withSpan(name, context: context, ofKind: .server) { span in
        response.traceID = span.context.traceContext?.traceIDHex
        // Attributes only where they will be written: this runs for every request.
        guard span.isRecording else { return try await body(span) }
        span.attributes["http.method"] = request.method
        span.attributes["http.target"] = request.head.target
        span.attributes["flare.request_id"] = request.requestID
        defer { span.attributes["http.status_code"] = response.status ?? 0 }
        return try await body(span)
    }
}
