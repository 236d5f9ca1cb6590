import FlareHTTP
import FlareIO
import Foundation

/// A client of etcd's v3 API through its JSON gateway (`POST /v3/kv/range` and the like), on
/// one event loop, over FlareHTTP's pooled keep-alive client.
///
/// Why the JSON gateway and not gRPC: grpc-swift with protobuf adds about ten minutes to a first
/// build here (the code-generation plugin) and NIO's event loops beside Flare's own; the gateway
/// is part of etcd, speaks the same v3 API, and Flare's metadata calls are few and small.
///
/// Every call has a timeout. Endpoints fail over: a call goes to the member that answered last;
/// when it cannot be reached (refused, reset, timed out, or it answers "unavailable" — no leader)
/// the next member is tried. A write whose request may have reached a member that then went
/// silent is not sent again (it may have been applied): it fails with ``EtcdError/unavailable(_:)``
/// and the caller decides; a read, or a write that never got through, goes on to the next member.
public final class EtcdClient: @unchecked Sendable {
    public let endpoints: [SocketAddress]
    public let loop: EventLoop
    public let timeout: Duration
    /// Longest answer read (a page of a range is bounded by its `limit`).
    public static let answerBytesMax = 32 << 20

    private let http: HTTPClient
    private var current = 0

    public init(endpoints: [SocketAddress], loop: EventLoop, timeout: Duration = .seconds(5)) {
        precondition(!endpoints.isEmpty, "etcd needs at least one endpoint")
        self.endpoints = endpoints
        self.loop = loop
        self.timeout = timeout
        http = HTTPClient(loop: loop, connectionsPerPeerMax: 16, idlePerPeerMax: 8)
        http.connectTimeout = min(timeout, .seconds(2))
    }

    /// `host:port,host:port` (an `etcd://` prefix allowed), as `--metadata etcd://…` gives it.
    public static func endpoints(parsing text: String) throws(IOError) -> [SocketAddress] {
        let list = text.hasPrefix("etcd://") ? String(text.dropFirst("etcd://".count)) : text
        var addresses: [SocketAddress] = []
        for part in list.split(separator: ",") where !part.isEmpty { addresses.append(try SocketAddress(parsing: String(part))) }
        guard !addresses.isEmpty else { throw IOError(errno: EINVAL, operation: "parse etcd endpoints '\(text)'") }
        return addresses
    }

    // MARK: - KV

    /// Stores `value` at `key`; returns the revision of the change.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: Int64 = 0) async throws(EtcdError) -> Int64 {
        var body: [String: Any] = ["key": EtcdJSON.encode(key), "value": EtcdJSON.encode(value)]
        if lease != 0 { body["lease"] = String(lease) }
        let answer = try await call("/v3/kv/put", body, idempotent: false)
        return EtcdJSON.int((answer["header"] as? [String: Any])?["revision"])
    }

    /// The key, read linearizably (through the leader), or `nil`.
    public func get(_ key: String) async throws(EtcdError) -> EtcdKeyValue? {
        try await range(["key": EtcdJSON.encode(key)], call: "get").keys.first
    }

    /// Keys starting with `prefix`, after `after` (exclusive) in key order, at most `limit`;
    /// `more` when the page was cut by the limit.
    public func list(prefix: String, after: String? = nil, limit: Int) async throws(EtcdError) -> (keys: [EtcdKeyValue], more: Bool) {
        precondition(limit > 0)
        // After `after`: from the next possible key, `after` + NUL.
        let start = after.map { Array($0.utf8) + [0] } ?? Array(prefix.utf8)
        let page = try await range(["key": EtcdJSON.encode(start), "range_end": EtcdJSON.encode(EtcdJSON.prefixEnd(prefix)),
                                    "limit": String(limit)], call: "list")
        return (page.keys, page.more)
    }

    /// Deletes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ key: String) async throws(EtcdError) -> Bool {
        let answer = try await call("/v3/kv/deleterange", ["key": EtcdJSON.encode(key)], idempotent: true)
        return EtcdJSON.int(answer["deleted"]) > 0
    }

    /// One comparison of a transaction on a key's last change.
    public enum Compare: Sendable {
        /// The key's mod revision is this (0: the key does not exist).
        case modRevision(String, equals: Int64)
    }

    /// One operation of a transaction.
    public enum Operation: Sendable {
        case put(String, [UInt8], lease: Int64 = 0)
        case delete(String)
    }

    /// Applies `success` if every comparison holds, `failure` otherwise, atomically; returns
    /// whether the comparisons held and the revision after.
    public func transaction(_ compares: [Compare], success: [Operation], failure: [Operation] = []) async throws(EtcdError)
        -> (succeeded: Bool, revision: Int64) {
        func operation(_ op: Operation) -> [String: Any] {
            switch op {
            case .put(let key, let value, let lease):
                var put: [String: Any] = ["key": EtcdJSON.encode(key), "value": EtcdJSON.encode(value)]
                if lease != 0 { put["lease"] = String(lease) }
                return ["request_put": put]
            case .delete(let key):
                return ["request_delete_range": ["key": EtcdJSON.encode(key)]]
            }
        }
        let compare: [[String: Any]] = compares.map { compare in
            switch compare {
            case .modRevision(let key, let revision):
                ["key": EtcdJSON.encode(key), "target": "MOD", "result": "EQUAL", "mod_revision": String(revision)]
            }
        }
        let answer = try await call("/v3/kv/txn", ["compare": compare, "success": success.map(operation), "failure": failure.map(operation)],
                                    idempotent: false)
        return (answer["succeeded"] as? Bool ?? false, EtcdJSON.int((answer["header"] as? [String: Any])?["revision"]))
    }

    // MARK: - Leases

    /// A lease of `ttlSeconds`; keys put with it go when it expires or is revoked.
    public func grantLease(ttlSeconds: Int) async throws(EtcdError) -> Int64 {
        let answer = try await call("/v3/lease/grant", ["TTL": String(ttlSeconds)], idempotent: false)
        let id = EtcdJSON.int(answer["ID"])
        guard id != 0 else { throw .malformed(call: "lease grant", why: "no ID in \(answer)") }
        return id
    }

    /// Ends the lease at once, and with it its keys.
    public func revokeLease(_ id: Int64) async throws(EtcdError) {
        _ = try await call("/v3/lease/revoke", ["ID": String(id)], idempotent: true)
    }

    /// Seconds the lease has left; `nil` once it expired or was revoked.
    public func leaseTimeToLive(_ id: Int64) async throws(EtcdError) -> Int? {
        let answer = try await call("/v3/lease/timetolive", ["ID": String(id)], idempotent: true)
        let ttl = EtcdJSON.int(answer["TTL"])
        return ttl > 0 ? Int(ttl) : nil
    }

    // MARK: - Calls

    private func range(_ body: [String: Any], call: String) async throws(EtcdError) -> (keys: [EtcdKeyValue], more: Bool) {
        let answer = try await self.call("/v3/kv/range", body, idempotent: true)
        var keys: [EtcdKeyValue] = []
        for entry in answer["kvs"] as? [[String: Any]] ?? [] { keys.append(try EtcdKeyValue(json: entry, call: call)) }
        return (keys, answer["more"] as? Bool ?? false)
    }

    /// POSTs `body` to `path`, failing over between the members (see the type's comment).
    private func call(_ path: String, _ body: [String: Any], idempotent: Bool) async throws(EtcdError) -> [String: Any] {
        let json: Data
        do {
            json = try JSONSerialization.data(withJSONObject: body)
        } catch {
            preconditionFailure("a request built here is always JSON: \(error)")
        }
        var failures: [String] = []
        for attempt in 0..<endpoints.count {
            let index = (current + attempt) % endpoints.count
            let endpoint = endpoints[index]
            switch await exchange(path, json, endpoint) {
            case .answered(let answer):
                current = index
                return answer
            case .refused(let status, let message):
                throw .failed(call: path, status: status, message: message)
            case .unreachable(let why, let mayHaveApplied):
                failures.append("\(endpoint): \(why)")
                if mayHaveApplied && !idempotent {
                    throw .unavailable("\(path) to \(endpoint): \(why) (not sent again: it may have been applied)")
                }
            }
        }
        throw .unavailable("\(path): " + failures.joined(separator: "; "))
    }

    private enum Outcome {
        case answered([String: Any])
        case refused(status: Int, message: String)
        case unreachable(String, mayHaveApplied: Bool)
    }

    private func exchange(_ path: String, _ json: Data, _ endpoint: SocketAddress) async -> Outcome {
        let body = UnsafeMutableRawBufferPointer.allocate(byteCount: max(json.count, 1), alignment: 1)
        defer { body.deallocate() }
        json.copyBytes(to: body.bindMemory(to: UInt8.self))
        do {
            let (status, bytes) = try await http.execute(method: "POST", target: path,
                                                         headers: ["Host": "\(endpoint)", "Content-Type": "application/json"],
                                                         body: UnsafeRawBufferPointer(rebasing: body[0..<json.count]), to: endpoint,
                                                         timeout: timeout) { response in
                (response.status, try await Self.readAll(response.body))
            }
            guard let bytes else { return .refused(status: status, message: "an answer over \(Self.answerBytesMax) bytes") }
            let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
            if status == 200, let object { return .answered(object) }
            let message = (object?["message"] as? String) ?? (object?["error"] as? String) ?? String(decoding: bytes.prefix(300), as: UTF8.self)
            // No leader, a member stopping, too many requests: another member may do.
            if status == 503 || message.contains("no leader") || message.contains("stopped") || message.contains("timed out") {
                return .unreachable("HTTP \(status): \(message)", mayHaveApplied: message.contains("timed out"))
            }
            return .refused(status: status, message: message)
        } catch let error as HTTPError {
            if case .io(let io) = error, io.kind == .connectionRefused { return .unreachable(error.description, mayHaveApplied: false) }
            return .unreachable(error.description, mayHaveApplied: true)
        } catch {
            return .unreachable("\(error)", mayHaveApplied: true)
        }
    }

    /// The whole body; `nil` when it is longer than ``answerBytesMax``.
    private static func readAll(_ body: HTTPBodyReader) async throws -> [UInt8]? {
        var bytes: [UInt8] = []
        let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { piece.deallocate() }
        while true {
            let got = try await body.read(into: piece)
            if got == 0 { return bytes }
            bytes.append(contentsOf: piece[0..<got])
            guard bytes.count <= answerBytesMax else { return nil }
        }
    }

    /// Closes the pooled connections.
    public func close() async { await http.closeIdle() }
}
