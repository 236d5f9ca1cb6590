/// Why an admin command failed. Each case's description is the one line `flare` prints
/// after `flare: `, so it names what was asked and of whom.
public enum AdminError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `--api` (or `FLARE_API`) is not an http URL of a host and port.
    case badAPIURL(String, why: String)
    /// No TCP connection to the api, or it broke before an answer: `api` is the URL as given.
    case unreachable(api: String, reason: String)
    /// The api took longer than the timeout to connect or answer.
    case timedOut(api: String, seconds: Int)
    /// The api answered with an error status; `message` is its error body's message.
    case api(status: Int, message: String)
    /// The api answered 2xx with a body this CLI cannot read (another version of the api?).
    case badAnswer(target: String, why: String)
    /// No node's id starts with this prefix.
    case unknownNode(prefix: String, known: Int)
    /// Several nodes' ids start with this prefix.
    case ambiguousNode(prefix: String, matches: [String])
    /// The CLI's own runtime could not start (an event loop).
    case runtime(String)
    /// The admin token file could not be read, or holds no token.
    case tokenFile(String, why: String)

    public var description: String {
        switch self {
        case .badAPIURL(let text, let why):
            return "--api '\(text)' is not usable: \(why)"
        case .unreachable(let api, let reason):
            return "cannot reach the api at \(api): \(reason)"
        case .timedOut(let api, let seconds):
            return "the api at \(api) did not answer within \(seconds) s (--timeout)"
        case .api(let status, let message):
            return "\(message) (HTTP \(status))"
        case .badAnswer(let target, let why):
            return "the api's answer to \(target) is not what this flare understands: \(why)"
        case .unknownNode(let prefix, let known):
            return "no node's id starts with '\(prefix)' (the layout has \(known) node\(known == 1 ? "" : "s"); see `flare nodes`)"
        case .ambiguousNode(let prefix, let matches):
            return "'\(prefix)' is the start of \(matches.count) node ids (\(matches.joined(separator: ", "))): give more of the id"
        case .runtime(let what):
            return what
        case .tokenFile(let path, let why):
            return "the admin token file \(path) is not usable: \(why)"
        }
    }
}
