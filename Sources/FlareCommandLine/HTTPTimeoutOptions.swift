import ArgumentParser
import FlareHTTP

/// The flags for how long a node's HTTP server waits on its clients: an operator tunes
/// them for slow networks, or shortens the idle one to free connections sooner.
/// `api` and `datanode` include them with `@OptionGroup`.
public struct HTTPTimeoutOptions: ParsableArguments {
    @Option(name: .customLong("idle-timeout"),
            help: "Seconds a kept-alive connection may wait for its next request before the server closes it.")
    public var idleTimeout = HTTPLimits().idleTimeoutSeconds

    @Option(name: .customLong("head-timeout"),
            help: "Seconds a request head may take to arrive, from its first byte, before the server answers 408.")
    public var headTimeout = HTTPLimits().headTimeoutSeconds

    @Option(name: .customLong("body-timeout"),
            help: "Seconds a request body may stall, or a response wait to be sent, before the server answers 408 or closes.")
    public var bodyTimeout = HTTPLimits().bodyTimeoutSeconds

    public init() {}

    public func validate() throws {
        let range = HTTPLimits.timeoutSecondsRange
        for (flag, value) in [("--idle-timeout", idleTimeout), ("--head-timeout", headTimeout), ("--body-timeout", bodyTimeout)]
        where !range.contains(value) {
            throw ValidationError("\(flag) must be \(range.lowerBound)…\(range.upperBound) seconds, not \(value)")
        }
    }

    /// `base` with these timeouts.
    public func limits(_ base: HTTPLimits = HTTPLimits()) -> HTTPLimits {
        var limits = base
        limits.idleTimeoutSeconds = idleTimeout
        limits.headTimeoutSeconds = headTimeout
        limits.bodyTimeoutSeconds = bodyTimeout
        return limits
    }
}
