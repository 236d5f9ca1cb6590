import FlareIO
import Glibc

/// Where the api listens, from `--api`: `http://host:port`, `http://host` (port 80) or
/// `host:port`. Plain HTTP only, since that is all the api serves.
public struct APIEndpoint: Sendable, Equatable {
    /// The URL as the operator gave it, without a trailing slash: what error messages name.
    public let text: String
    public let host: String
    public let port: UInt16

    /// The `--api` default when neither the flag nor `FLARE_API` says otherwise.
    public static let defaultURL = "http://127.0.0.1:8000"

    /// Parses the URL; resolves nothing yet.
    /// - Throws: ``AdminError/badAPIURL(_:why:)`` for another scheme, a path, or no host.
    public init(parsing text: String) throws(AdminError) {
        var rest = Substring(text)
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        self.text = String(rest)
        if let scheme = rest.range(of: "://") {
            let name = rest[..<scheme.lowerBound].lowercased()
            guard name == "http" else {
                throw .badAPIURL(text, why: "the api speaks plain http, not \(name)")
            }
            rest = rest[scheme.upperBound...]
        }
        guard !rest.contains("/"), !rest.contains("?"), !rest.contains("@") else {
            throw .badAPIURL(text, why: "give only the scheme, host and port, like \(Self.defaultURL)")
        }
        var host = rest
        var port: UInt16 = 80
        // The last colon outside IPv6 brackets starts the port.
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("]") {
            guard let number = UInt16(rest[rest.index(after: colon)...]), number != 0 else {
                throw .badAPIURL(text, why: "the port must be 1…65535")
            }
            port = number
            host = rest[..<colon]
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { throw .badAPIURL(text, why: "no host") }
        self.host = String(host)
        self.port = port
    }

    /// The socket address to connect to: a numeric host as it is, a name through the
    /// system resolver (blocking, which a CLI can afford before its loop starts).
    public func resolve() throws(AdminError) -> SocketAddress {
        if let numeric = try? SocketAddress(host: host, port: port) { return numeric }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &found)
        guard status == 0, let first = found else {
            throw .unreachable(api: text, reason: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(found) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let numeric = Self.numericHost(current.pointee), let address = try? SocketAddress(host: numeric, port: port) {
                return address
            }
            entry = current.pointee.ai_next
        }
        throw .unreachable(api: text, reason: "\(host) resolves to no IPv4 or IPv6 address")
    }

    private static func numericHost(_ info: addrinfo) -> String? {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch info.ai_family {
        case AF_INET:
            var address = info.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            guard inet_ntop(AF_INET, &address, &text, socklen_t(text.count)) != nil else { return nil }
        case AF_INET6:
            var address = info.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return nil }
        default:
            return nil
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
