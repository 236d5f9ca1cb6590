/// Why an etcd call failed, with the endpoint and the call.
public enum EtcdError: Error, CustomStringConvertible, Sendable, Equatable {
    /// No endpoint answered (every one refused, reset or timed out): etcd is unreachable.
    case unavailable(String)
    /// An endpoint answered with an error (gRPC code and message as the gateway gives them).
    case failed(call: String, status: Int, message: String)
    /// The answer was not what the v3 API documents.
    case malformed(call: String, why: String)

    public var description: String {
        switch self {
        case .unavailable(let why): "etcd unavailable: \(why)"
        case .failed(let call, let status, let message): "etcd \(call): HTTP \(status): \(message)"
        case .malformed(let call, let why): "etcd \(call): malformed answer: \(why)"
        }
    }
}
