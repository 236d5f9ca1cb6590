import FlareHTTP
import Instrumentation

/// Reads `traceparent` and `tracestate` from a request's headers.
public struct HTTPHeadersExtractor: Extractor {
    public init() {}
    public func extract(key: String, from carrier: HTTPHeaders) -> String? { carrier[key] }
}

/// Writes `traceparent` and `tracestate` into the headers of a request about to be sent.
public struct HTTPHeadersInjector: Injector {
    public init() {}
    public func inject(_ value: String, forKey key: String, into carrier: inout HTTPHeaders) { carrier.set(key, value) }
}
