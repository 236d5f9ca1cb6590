import FlareHTTP
import FlareIO

/// Talks to the api over Flare's own HTTP client, on an event loop of its own.
public final class HTTPAdminTransport: AdminTransport, @unchecked Sendable {
    /// Bytes of an answer read at most: a layout of thousands of nodes is well under this,
    /// and a body without end must not grow the CLI's memory without bound.
    public static let answerBytesMax = 16 << 20
    /// Bytes read from the body per call.
    static let readBytes = 64 << 10

    public let endpoint: APIEndpoint
    public let timeoutSeconds: Int
    /// Sent with every request, when given.
    public let token: AdminToken?
    private let address: SocketAddress
    private let loop: EventLoop
    private let client: HTTPClient

    /// Resolves the endpoint and starts the loop.
    /// - Parameters:
    ///   - timeoutSeconds: bounds connecting and every wait for the answer (its head and
    ///     each read of its body).
    ///   - token: the admin token, sent as `Authorization: Bearer`.
    public init(endpoint: APIEndpoint, timeoutSeconds: Int, engine: IOEngineKind, token: AdminToken? = nil) async throws(AdminError) {
        self.endpoint = endpoint
        self.timeoutSeconds = timeoutSeconds
        self.token = token
        address = try endpoint.resolve()
        do {
            loop = try EventLoop.start(engine: engine, name: "flare-cli")
        } catch {
            throw .runtime("cannot start the I/O loop (\(engine)): \(error)")
        }
        let loop = self.loop, timeout = Duration.seconds(timeoutSeconds)
        do {
            client = try await loop.run {
                // One request at a time: one connection, kept alive between them.
                let client = HTTPClient(loop: loop, connectionsPerPeerMax: 1, idlePerPeerMax: 1)
                client.connectTimeout = timeout
                return client
            }
        } catch {
            loop.shutdown()
            throw .runtime("cannot start the HTTP client: \(error)")
        }
    }

    public func send(_ method: String, _ target: String) async throws(AdminError) -> AdminAnswer {
        let client = self.client, address = self.address, timeout = Duration.seconds(timeoutSeconds)
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if let token { headers.add("Authorization", "Bearer \(token.value)") }
        do {
            return try await loop.run { [headers] in
                try await client.execute(method: method, target: target, headers: headers,
                                         to: address, timeout: timeout) { response in
                    AdminAnswer(status: response.status, body: try await Self.readBody(response.body, of: target))
                }
            }
        } catch let error as AdminError {
            throw error
        } catch let error as HTTPError {
            throw map(error)
        } catch {
            throw .unreachable(api: endpoint.text, reason: "\(error)")
        }
    }

    /// Closes the kept-alive connection and stops the loop; call once, after the last request.
    public func close() async {
        let client = self.client
        // Nothing in the body throws: `run` is declared throwing for bodies that do.
        _ = try? await loop.run { await client.closeIdle() }
        loop.shutdown()
    }

    private static func readBody(_ body: HTTPBodyReader, of target: String) async throws -> [UInt8] {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: readBytes, alignment: 16)
        defer { scratch.deallocate() }
        var bytes: [UInt8] = []
        while true {
            let count = try await body.read(into: scratch)
            if count == 0 { return bytes }
            guard bytes.count + count <= answerBytesMax else {
                throw AdminError.badAnswer(target: target, why: "the body is larger than \(answerBytesMax >> 20) MiB")
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
        }
    }

    /// What an operator needs to hear of a failed exchange: refused, timed out, or cut off.
    private func map(_ error: HTTPError) -> AdminError {
        switch error {
        case .timedOut:
            return .timedOut(api: endpoint.text, seconds: timeoutSeconds)
        case .io(let io) where io.kind == .timedOut:
            return .timedOut(api: endpoint.text, seconds: timeoutSeconds)
        case .io(let io) where io.kind == .connectionRefused:
            return .unreachable(api: endpoint.text, reason: "connection refused")
        case .io(let io) where io.kind == .connectionReset:
            return .unreachable(api: endpoint.text, reason: "connection reset")
        case .io(let io):
            return .unreachable(api: endpoint.text, reason: io.description)
        case .connectionClosed(let what):
            return .unreachable(api: endpoint.text, reason: "connection closed \(what)")
        case .malformed(let parse):
            return .unreachable(api: endpoint.text, reason: "not an HTTP answer: \(parse.message)")
        }
    }
}
