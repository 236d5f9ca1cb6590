import FlareAuth
import FlareCluster
import FlareCore
import FlareHTTP
import FlareIO
import FlareMetrics
import FlareTracing
import Foundation
import Instrumentation
import Logging
import Synchronization

/// The chunk transport over HTTP: talks to data nodes from one event loop, over that loop's
/// keep-alive pool.
final class DataNodeClient: ChunkTransport, @unchecked Sendable {
    let client: HTTPClient
    let loop: EventLoop
    /// Where each node id is now, and where its exchanges' outcomes go.
    let directory: NodeDirectory
    let metrics: NodeMetrics
    let timeout: Duration
    /// Chunk exchanges in flight from this loop, by node: how busy each node is now, as
    /// reads choose between copies. Loop-confined, like the client.
    private(set) var inFlight: [String: Int] = [:]
    /// Told when an exchange moved a node's health state (for the log).
    let onHealthChange: @Sendable (String, NodeHealthTransition) -> Void
    /// Where a node's refusal of this api's signature (401, 403) is told: the api's secret is
    /// not one the node has, or the clocks are apart.
    private let logger: Logger
    /// When each node's refusal was last logged (loop-confined, like the client).
    private var authWarnedAt: [String: ContinuousClock.Instant] = [:]

    /// - Parameter signer: signs every request (`--cluster-secret-file`); `nil`: unsigned.
    init(loop: EventLoop, directory: NodeDirectory, metrics: NodeMetrics, timeout: Duration, signer: RequestSigner? = nil,
         logger: Logger = Logger(label: "api"),
         onHealthChange: @escaping @Sendable (String, NodeHealthTransition) -> Void = { _, _ in }) {
        self.onHealthChange = onHealthChange
        self.loop = loop
        self.logger = logger
        client = HTTPClient(loop: loop, connectionsPerPeerMax: 64, idlePerPeerMax: 32)
        client.connectTimeout = .seconds(2)
        if let signer {
            // Per attempt: a retry on a fresh connection gets a nonce of its own, not a replay.
            client.beforeSend = { method, target, headers in
                let value = signer.authorization(method: method, target: target, header: { headers[$0] },
                                                 time: wallClockNanoseconds() / 1_000_000_000)
                headers.set("Authorization", value)
            }
        }
        self.directory = directory
        self.metrics = metrics
        self.timeout = timeout
    }

    /// The headers every request to `node` carries: its id, so that only that node acts on it
    /// (another one at its address answers 409), and, signed, so that a copy of the request
    /// replayed at another node is refused there.
    private func headers(for node: String, _ more: HTTPHeaders = HTTPHeaders()) -> HTTPHeaders {
        var headers = more
        headers.set(Self.expectedNodeHeader, node)
        // The span in scope (a chunk's send or fetch) goes on at the data node: `traceparent`.
        if let context = InstrumentationContext.current {
            InstrumentationSystem.instrument.inject(context, into: &headers, using: HTTPHeadersInjector())
        }
        return headers
    }

    /// Logs a node's refusal of this api's signature, at most once per node per 10 s: a wrong
    /// secret refuses every request, and one line says it.
    func noteAuthRefusal(_ node: String, _ method: String, status: Int) {
        guard status == 401 || status == 403 else { return }
        metrics.counter("flare_api_datanode_auth_refused_total", ["node": "\(node)"]).increment()
        let now = ContinuousClock.now
        if let last = authWarnedAt[node], now - last < .seconds(10) { return }
        authWarnedAt[node] = now
        logger.error("data node \(node) refused a signed \(method) with \(status): its --cluster-secret-file does not hold this api's first secret, or the clocks are apart (see its log)")
    }

    func put(_ id: ChunkID, _ bytes: UnsafeRawBufferPointer, crc32c: UInt32, on node: String) async throws(ChunkTransportError) {
        // The caller holds the buffer until this returns, and the exchange ends before that.
        nonisolated(unsafe) let bytes = bytes
        try await abandonedIfUnavailable(node, as: .failed(node: node, reason: Self.abandoned)) { watch async throws(ChunkTransportError) in
            try await self.exchangePut(id, bytes, crc32c: crc32c, on: node, watch: watch)
        }
    }

    private func exchangePut(_ id: ChunkID, _ bytes: UnsafeRawBufferPointer, crc32c: UInt32, on node: String,
                             watch: NodeDirectory.Watch) async throws(ChunkTransportError) {
        let address = try address(of: node)
        let started = ContinuousClock.now
        let status: Int
        do {
            status = try await client.execute(method: "PUT", target: "/chunk/\(id)",
                                              headers: headers(for: node, ["X-Flare-Checksum": CRC32C.headerValue(crc32c)]),
                                              body: bytes, to: address, timeout: timeout) { response in
                _ = try await response.body.discard(bytesMax: 64 * 1024)
                return response.status
            }
        } catch {
            observe(node, "PUT", started, status: 0, ending: watch)
            throw .failed(node: node, reason: "\(error)")
        }
        observe(node, "PUT", started, status: status, ending: watch)
        if status == 201 { return }
        noteAuthRefusal(node, "PUT", status: status)
        // A 4xx means the request itself is wrong, except 409: this node already holds a
        // chunk of that id (a copy of a failed attempt), which says nothing of the others.
        if status / 100 == 4 && status != 409 { throw .refused(node: node, status: status) }
        throw .failed(node: node, reason: "status \(status)")
    }

    func get(_ id: ChunkID, length: Int, from node: String, into buffer: IOBuffer) async throws(ChunkTransportError) -> UInt32 {
        precondition(buffer.capacity >= length, "buffer of \(buffer.capacity) bytes for a chunk of \(length)")
        return try await abandonedIfUnavailable(node, as: .unreadable(node: node, fault: .timeout, reason: Self.abandoned)) {
            watch async throws(ChunkTransportError) in
            try await self.exchangeGet(id, length: length, from: node, into: buffer, watch: watch)
        }
    }

    static let abandoned = "abandoned: the node stopped answering while this exchange waited"

    /// Runs one exchange with `node` in a task of its own, cancelled if the node stops being
    /// up meanwhile (``NodeDirectory/watchUnavailable(_:_:)``): a node that hangs mid-transfer
    /// then costs the exchange at most the prober's timeout, not the whole data-node timeout,
    /// and its chunk goes to (or comes from) the next replica at once. An abandoned exchange
    /// throws `abandonment`.
    private func abandonedIfUnavailable<T: Sendable>(_ node: String, as abandonment: ChunkTransportError,
                                                     _ exchange: @escaping @Sendable (NodeDirectory.Watch) async throws(ChunkTransportError) -> T)
        async throws(ChunkTransportError) -> T {
        loop.assertInLoop()
        inFlight[node, default: 0] += 1
        defer {
            inFlight[node]! -= 1
            if inFlight[node] == 0 { inFlight.removeValue(forKey: node) }
        }
        let canceller = Canceller()
        let watch = directory.watchUnavailable(node) { canceller.cancel() }
        let task = Task(executorPreference: loop) { () async -> Result<T, ChunkTransportError> in
            do throws(ChunkTransportError) {
                return .success(try await exchange(watch))
            } catch {
                return .failure(error)
            }
        }
        canceller.set { task.cancel() }
        let result = await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
        directory.endWatch(watch)
        if case .failure = result, task.isCancelled, !directory.isUp(node) { throw abandonment }
        return try result.get()
    }

    private func exchangeGet(_ id: ChunkID, length: Int, from node: String, into buffer: IOBuffer,
                             watch: NodeDirectory.Watch) async throws(ChunkTransportError) -> UInt32 {
        let address = try address(of: node)
        let started = ContinuousClock.now
        var crc = CRC32C()
        let problem: (ReplicaFault, String)?
        do {
            problem = try await client.execute(method: "GET", target: "/chunk/\(id)", headers: headers(for: node), to: address,
                                               timeout: timeout) { response -> (ReplicaFault, String)? in
                crc = CRC32C()  // a retry on a fresh connection starts over
                guard response.status == 200 else {
                    noteAuthRefusal(node, "GET", status: response.status)
                    _ = try await response.body.discard(bytesMax: 64 * 1024)
                    return (response.status == 404 ? .missing : .status, "status \(response.status)")
                }
                guard response.body.contentLength == length else {
                    return (.length, "length \(response.body.contentLength ?? -1), manifest says \(length)")
                }
                let got: Int
                do throws(HTTPError) {
                    got = try await response.body.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer.space[0..<length])) {
                        crc.update($0)
                    }
                } catch {
                    // The head came: the body stalled (a timeout between bytes) or stopped.
                    let fault: ReplicaFault = if case .timedOut = error { .timeout } else { .shortBody }
                    return (fault, "after \(response.body.bytesRead) of \(length) bytes: \(error)")
                }
                return got == length ? nil : (.shortBody, "short body: \(got) of \(length) bytes")
            }
        } catch {
            observe(node, "GET", started, status: 0, ending: watch)
            throw .unreadable(node: node, fault: ReplicaFault(beforeResponse: error), reason: "\(error)")
        }
        observe(node, "GET", started, status: problem == nil ? 200 : 500, ending: watch)
        if let (fault, reason) = problem { throw .unreadable(node: node, fault: fault, reason: reason) }
        return crc.value
    }

    /// What `node`'s scrubber quarantined (`GET /chunks/corrupt`); `nil` when the node could
    /// not say (unreachable, or an answer that is not the list). A node without a scrubber
    /// answers 404: nothing quarantined.
    func corruptChunks(on node: String) async -> [ChunkID]? {
        guard let address = directory.address(of: node) else { return nil }
        struct Listing: Decodable {
            struct Entry: Decodable { var id: String }
            var chunks: [Entry]
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.corruptListBytesMax, alignment: 16)
        defer { buffer.deallocate() }
        do {
            let count = try await client.execute(method: "GET", target: "/chunks/corrupt", headers: headers(for: node), to: address,
                                                 timeout: timeout) { response in
                guard response.status == 200 else {
                    noteAuthRefusal(node, "GET", status: response.status)
                    _ = try await response.body.discard(bytesMax: 64 * 1024)
                    return response.status == 404 ? 0 : -1
                }
                return try await response.body.readFully(into: buffer)
            }
            guard count >= 0 else { return nil }
            guard count > 0 else { return [] }
            let listing = try JSONDecoder().decode(Listing.self, from: Data(UnsafeRawBufferPointer(rebasing: buffer[0..<count])))
            return listing.chunks.compactMap { ChunkID($0.id) }
        } catch {
            return nil
        }
    }

    /// Sent with every request: the id of the node meant. A data node that is another (a node
    /// restarted on a port another had a moment ago) refuses with 409 instead of deleting,
    /// storing or serving the wrong node's chunks.
    static let expectedNodeHeader = "X-Flare-Node-Id"

    /// Bytes of a `/chunks/corrupt` answer read at most (some 80 bytes per quarantined chunk).
    static let corruptListBytesMax = 4 << 20

    func delete(_ id: ChunkID, on node: String) async -> Bool {
        // A node not reachable now keeps its deletion queued until it is back.
        guard let address = directory.address(of: node) else { return false }
        let started = ContinuousClock.now
        do {
            let status = try await client.execute(method: "DELETE", target: "/chunk/\(id)", headers: headers(for: node),
                                                  to: address, timeout: timeout) { response in
                _ = try await response.body.discard(bytesMax: 64 * 1024)
                return response.status
            }
            observe(node, "DELETE", started, status: status)
            noteAuthRefusal(node, "DELETE", status: status)
            return status == 204 || status == 404
        } catch {
            observe(node, "DELETE", started, status: 0)
            return false
        }
    }

    private func address(of node: String) throws(ChunkTransportError) -> SocketAddress {
        guard let address = directory.address(of: node) else { throw .failed(node: node, reason: "not a data node this api can reach") }
        return address
    }

    /// Records an exchange's outcome. `ending` is the exchange's watch, ended first: the
    /// failure being recorded may make the node suspect, and that must not count as this
    /// exchange being abandoned (it has already failed, with a reason of its own).
    private func observe(_ node: String, _ method: String, _ started: ContinuousClock.Instant, status: Int,
                         ending watch: NodeDirectory.Watch? = nil) {
        if let watch { directory.endWatch(watch) }
        let elapsed = ContinuousClock.now - started
        metrics.timer("flare_api_datanode_request_seconds", ["node": "\(node)", "method": "\(method)"]).recordSeconds(elapsed.secondsValue)
        if status == 0 || status >= 500 {
            metrics.counter("flare_api_datanode_errors_total", ["node": "\(node)", "method": "\(method)"]).increment()
        }
        // An exchange cut short by cancellation (its client went away, a sibling fetch failed,
        // the node was already found failing, the api stops) says nothing about the node:
        // recording it would make a healthy node suspect and abandon everyone else's
        // exchanges with it.
        if status == 0 && Task.isCancelled { return }
        // An exchange that failed below HTTP (refused, reset, timed out) makes the node
        // suspect at once, so the rest of an object's chunks go elsewhere.
        let event: NodeHealthEvent = status == 0 ? .dataPathFailed(NodeFailure(.connection, "\(method) exchange failed")) : .dataPathSucceeded
        if let change = directory.record(event, node: node) { onHealthChange(node, change) }
    }
}

extension ReplicaFault {
    /// The fault of an exchange that failed before its response's head was in.
    init(beforeResponse error: Error) {
        switch error as? HTTPError {
        case .timedOut?: self = .timeout
        case .io(let io)? where io.kind == .connectionRefused: self = .connect
        case .io(let io)? where io.kind == .timedOut: self = .timeout
        default: self = .error
        }
    }
}

/// The cancel of an exchange's task, which a node's watch may ask for before the task exists.
private final class Canceller: Sendable {
    private let state = Mutex<(cancel: (@Sendable () -> Void)?, requested: Bool)>((nil, false))

    func cancel() {
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            state.requested = true
            return state.cancel
        }
        cancel?()
    }

    func set(_ cancel: @escaping @Sendable () -> Void) {
        let requested = state.withLock { state -> Bool in
            state.cancel = cancel
            return state.requested
        }
        if requested { cancel() }
    }
}
