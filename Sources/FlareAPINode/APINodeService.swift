import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata
import Glibc
import Logging

/// A running API node: loops, per-loop buffer pools and data-node clients, the metadata
/// store, the deletion worker and the HTTP server.
public final class APINodeService: @unchecked Sendable {
    public let config: APINodeConfig
    public let metrics = Metrics()
    public let loops: [EventLoop]
    private let metadata: SQLiteMetadataStore
    private var server: HTTPServer!
    private var deletions: DeletionWorker!
    private var contexts: [LoopContext] = []
    private let logger: Logger

    /// The address bound (the real port when 0 was asked for).
    public var localAddress: SocketAddress { server.localAddress }

    public init(config: APINodeConfig, logger: Logger) async throws {
        self.config = config
        guard (1...max(1, config.dataNodes.count)).contains(config.replicas) else {
            throw APINodeConfigError("replicas \(config.replicas) needs as many data nodes, and \(config.dataNodes.count) are configured")
        }
        var addresses: [String: SocketAddress] = [:]
        for node in config.dataNodes { addresses[node] = try SocketAddress(parsing: node) }
        let directory = config.metadataPath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !directory.isEmpty { try FileSystem.makeDirectories(directory) }
        metadata = try SQLiteMetadataStore(path: config.metadataPath, deletionGraceSeconds: config.deletionGraceSeconds)
        let reclaimed = try await metadata.reclaimReservations(onNodes: config.dataNodes)
        if reclaimed > 0 { logger.notice("\(reclaimed) chunk id(s) reserved by unfinished uploads of a previous run: their copies are queued for deletion") }
        let resolved = config.engine.resolved()
        if let reason = resolved.fallbackReason { logger.notice("io_uring unavailable (\(reason)); using epoll") }
        var loops: [EventLoop] = []
        for index in 0..<config.threads {
            loops.append(try EventLoop.start(engine: resolved.kind, name: "api-\(index)"))
        }
        self.loops = loops
        self.logger = logger
        let buffersPerLoop = max(config.windowChunks + 1, config.bufferPoolBytes / config.chunkSizeBytes / loops.count)
        var contexts: [ObjectIdentifier: LoopContext] = [:]
        let metrics = self.metrics
        for loop in loops {
            let context = try await loop.run { [config, addresses, metadata] in
                // Only a window's worth is touched up front; the rest on first use (the pool
                // hands out warm buffers first), so an idle node stays small.
                LoopContext(loop: loop,
                            pool: BufferPool(bufferBytes: config.chunkSizeBytes, bufferCount: buffersPerLoop, loop: loop,
                                             prefaultCount: config.windowChunks * 2),
                            dataNodes: DataNodeClient(loop: loop, addresses: addresses, metrics: metrics,
                                                      timeout: .seconds(config.dataNodeTimeoutSeconds)),
                            reservations: ChunkIDReservations(metadata: metadata, batchCount: Self.reservedIDsPerBatch(config)) { body in
                                loop.spawn { await body() }
                            })
            }
            contexts[ObjectIdentifier(loop)] = context
            self.contexts.append(context)
        }
        describeMetrics()
        let routes = APIRoutes(contexts: contexts, placement: Placement(nodes: config.dataNodes), metadata: metadata,
                               config: config, metrics: metrics, engine: resolved.kind)
        server = try HTTPServer(address: SocketAddress(host: config.host, port: config.port), loops: loops, limits: config.httpLimits,
                                onExchange: APIRoutes.recorder(metrics: metrics, logger: logger).record,
                                handler: routes.handle)
        deletions = DeletionWorker(context: contexts[ObjectIdentifier(loops[0])]!, metadata: metadata, logger: logger)
        deletions.start()
        logger.info("api listening on \(server.localAddress): \(loops.count) \(resolved.kind) loop(s), data nodes \(config.dataNodes.joined(separator: ",")), chunks of \(ByteSize.format(config.chunkSizeBytes)), window \(config.windowChunks), \(buffersPerLoop) buffers per loop, metadata \(config.metadataPath)")
    }

    private func describeMetrics() {
        metrics.describe("flare_api_requests_total", type: "counter", "Requests by method and status.")
        metrics.describe("flare_api_requests_in_flight", type: "gauge", "Object requests being served.")
        metrics.describe("flare_api_buffers_in_use", type: "gauge", "Chunk buffers held by requests, per loop.")
        metrics.describe("flare_api_datanode_errors_total", type: "counter", "Failed data-node exchanges by node and method.")
        metrics.describe("flare_api_datanode_request_seconds", type: "histogram", "Data-node exchange latency by node and method.")
        metrics.set("flare_api_requests_in_flight", 0)
    }

    /// Chunk ids reserved in one metadata write: enough for a few windows of one large
    /// upload, or one chunk each of many small ones, per write.
    static func reservedIDsPerBatch(_ config: APINodeConfig) -> Int { max(64, 4 * config.windowChunks) }

    /// Stops accepting, stops the deletion worker, the loops and the metadata threads.
    public func stop() async {
        await server.stop()
        await deletions.stop()
        for context in contexts {
            do {
                try await context.loop.run { try await context.reservations.releaseStock() }
            } catch {
                logger.warning("unused chunk ids stay reserved (\(error)); the next start queues them for deletion")
            }
        }
        for loop in loops { loop.shutdown() }
        metadata.close()
    }
}

/// A configuration the API node cannot run with.
public struct APINodeConfigError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
