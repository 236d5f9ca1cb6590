import FlareAuth
import FlareCluster
import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata
import FlareMetrics
import FlareS3
import FlareTLS
import Glibc
import Logging

/// A running API node: loops, per-loop buffer pools and data-node clients, the metadata
/// store, the background workers (deletion, repair, garbage collection) and the HTTP server.
public final class APINodeService: @unchecked Sendable {
    public let config: APINodeConfig
    public let metrics = NodeMetrics()
    public let loops: [EventLoop]
    private let metadata: SQLiteMetadataStore
    private var server: HTTPServer!
    private var s3Server: HTTPServer?
    private var deletions: DeletionWorker!
    private var repairs: RepairWorker!
    private var gc: GCWorker!
    private var uploadExpiry: UploadExpiryWorker?
    private var contexts: [LoopContext] = []
    private let nodes: NodeDirectory
    private let layout: ClusterLayout
    private let prober: NodeProber
    private let repairProgress: RepairProgress
    /// Copies reads found bad, for the repair to make again.
    private let badCopies = BadCopies()
    private let logger: Logger

    /// The address bound (the real port when 0 was asked for).
    public var localAddress: SocketAddress { server.localAddress }
    /// The S3 listener's address, when there is one.
    public var s3Address: SocketAddress? { s3Server?.localAddress }

    public init(config: APINodeConfig, logger: Logger) async throws {
        self.config = config
        let configured = try config.dataNodes.map { (text: $0, address: try SocketAddress(parsing: $0)) }
        let directory = config.metadataPath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !directory.isEmpty { try FileSystem.makeDirectories(directory) }
        metadata = try SQLiteMetadataStore(path: config.metadataPath, deletionGraceSeconds: config.deletionGraceSeconds)
        // The native API's bucket exists from the first start on (S3 lists it).
        _ = try await metadata.createBucket(config.nativeBucket, createdNanoseconds: wallClockNanoseconds())
        let known = try await metadata.knownNodes()
        // The layout may hold nodes added since (flare node add): those count too.
        let layoutAddresses = Set(config.dataNodes).union(known.filter { $0.membership == .active }.map(\.address))
        guard (1...max(1, layoutAddresses.count)).contains(config.replicas) else {
            metadata.close()
            throw APINodeConfigError("replicas \(config.replicas) needs as many data nodes, and \(layoutAddresses.count) are configured")
        }
        let resolved = config.engine.resolved()
        if let reason = resolved.fallbackReason { logger.notice("io_uring unavailable (\(reason)); using epoll") }
        var loops: [EventLoop] = []
        for index in 0..<config.threads {
            loops.append(try EventLoop.start(engine: resolved.kind, name: "api-\(index)"))
        }
        self.loops = loops
        self.logger = logger
        let nodes = NodeDirectory(policy: NodeHealthPolicy(downAfterSeconds: config.nodeDownAfterSeconds))
        self.nodes = nodes
        layout = ClusterLayout(metadata: metadata, directory: nodes, configured: configured, known: known)
        await layout.refreshVersion()
        prober = NodeProber(loop: loops[0], layout: layout, logger: logger)
        // Data nodes started together with the api may take a moment to listen: wait for
        // them, a bounded while, rather than refuse the first PUTs.
        let expected = layout.probeTargets.count
        try await loops[0].run { [prober, nodes, loop = loops[0]] in
            let deadline = ContinuousClock.now + Self.startupDiscoverySecondsMax
            await prober.probeAll()
            while nodes.nodes.count < expected && ContinuousClock.now < deadline {
                try await loop.sleep(for: .milliseconds(200))
                await prober.probeAll()
            }
        }
        let reached = nodes.nodes.count
        if reached < config.replicas {
            logger.warning("\(reached) of \(expected) data nodes known, fewer than --replicas \(config.replicas): PUTs are refused until more answer")
        }
        // A copy left by a dead upload may be on any configured node: reclaim only when all are
        // known, else the unknown ones' copies would leak. The reservations wait for a later start.
        if reached >= expected {
            let reclaimed = try await metadata.reclaimReservations(onNodes: nodes.nodes.map(\.id))
            if reclaimed > 0 { logger.notice("\(reclaimed) chunk id(s) reserved by unfinished uploads of a previous run: their copies are queued for deletion") }
        } else {
            logger.warning("chunk ids reserved by unfinished uploads of a previous run stay reserved until every data node answers at a start")
        }
        let unfinished = try await metadata.reclaimRepairs()
        if unfinished > 0 { logger.notice("\(unfinished) repair copy(ies) unfinished by a previous run: those not in a manifest are queued for deletion") }
        let buffersPerLoop = max(config.windowChunks + 1, config.bufferPoolBytes / config.chunkSizeBytes / loops.count)
        var contexts: [ObjectIdentifier: LoopContext] = [:]
        let metrics = self.metrics
        for loop in loops {
            let context = try await loop.run { [config, nodes, metadata, logger] in
                // Only a window's worth is touched up front; the rest on first use (the pool
                // hands out warm buffers first), so an idle node stays small.
                LoopContext(loop: loop,
                            pool: BufferPool(bufferBytes: config.chunkSizeBytes, bufferCount: buffersPerLoop, loop: loop,
                                             prefaultCount: config.windowChunks * 2),
                            dataNodes: DataNodeClient(loop: loop, directory: nodes, metrics: metrics,
                                                      timeout: .seconds(config.dataNodeTimeoutSeconds),
                                                      signer: config.requestSigner, logger: logger) { node, change in
                                logger.warning("data node \(node) is \(change.to.rawValue) (was \(change.from.rawValue))\(change.failure.map { ": \($0)" } ?? "")")
                            },
                            reservations: ChunkIDReservations(metadata: metadata, batchCount: Self.reservedIDsPerBatch(config)) { body in
                                loop.spawn { await body() }
                            })
            }
            contexts[ObjectIdentifier(loop)] = context
            self.contexts.append(context)
        }
        repairProgress = RepairProgress(bandwidthBytesPerSecond: config.repairBandwidthBytesPerSecond)
        // Shown as 0 from the first scrape, not only after the first object request.
        metrics.gauge("flare_api_requests_in_flight").set(0)
        let admin = AdminRoutes(layout: layout, prober: prober, progress: repairProgress, replicas: config.replicas,
                                configured: Set(config.dataNodes))
        let routes = APIRoutes(contexts: contexts, nodes: nodes, metadata: metadata, admin: admin, badCopies: badCopies,
                               config: config, metrics: metrics, engine: resolved.kind, logger: logger)
        // S3's keys are read before anything listens: a bad file stops the start cleanly.
        var s3Routes: S3Routes?
        if config.s3Port != nil {
            let credentials: S3Credentials
            do {
                credentials = try S3Credentials(parsing: config.s3Credentials)
            } catch {
                throw APINodeConfigError("--s3-credentials: \(error)")
            }
            guard credentials.count > 0 else { throw APINodeConfigError("--s3-credentials holds no ACCESS_KEY SECRET_KEY pair") }
            s3Routes = S3Routes(objects: routes, credentials: credentials, baseDomain: config.s3BaseDomain)
        }
        var secure: HTTPServer.Secure?
        if let tls = config.tls {
            secure = { @Sendable tcp, timeout throws(IOError) in try await tls.accept(tcp, timeout: timeout) }
        }
        server = try HTTPServer(address: SocketAddress(host: config.host, port: config.port), loops: loops, limits: config.httpLimits,
                                onExchange: APIRoutes.recorder(metrics: metrics, logger: logger).record, secure: secure,
                                handler: routes.handle)
        if let s3Routes, let s3Port = config.s3Port {
            do {
                s3Server = try HTTPServer(address: SocketAddress(host: config.host, port: s3Port), loops: loops, limits: config.httpLimits,
                                          onExchange: APIRoutes.recorder(metrics: metrics, logger: logger).record, secure: secure,
                                          handler: s3Routes.handle)
            } catch {
                await server.stop()
                throw error
            }
            // Not "listening on": tests read the api's own port from the first such line.
            logger.info("S3 API on \(s3Server!.localAddress) with \(s3Routes.credentials.count) key(s), every request signed (SigV4/SigV2); native objects in bucket \(config.nativeBucket)")
        }
        // The background workers on the first loop, sharing its per-chunk locks.
        let background = contexts[ObjectIdentifier(loops[0])]!
        let locks = ChunkLocks(loop: loops[0])
        deletions = DeletionWorker(context: background, metadata: metadata, locks: locks, logger: logger,
                                   removedNodes: { [layout] in layout.removed })
        deletions.start()
        repairs = RepairWorker(context: background, metadata: metadata, locks: locks, layout: layout, badCopies: badCopies,
                               progress: repairProgress, replicas: config.replicas, repairAfterSeconds: config.repairAfterSeconds,
                               concurrency: config.repairConcurrency, logger: logger)
        repairs.start()
        gc = GCWorker(loop: loops[0], inventory: background.dataNodes, directory: nodes, metadata: metadata, locks: locks,
                      metrics: metrics, graceSeconds: config.gcGraceSeconds, intervalSeconds: config.gcIntervalSeconds, logger: logger)
        gc.start()
        if config.multipartExpirySeconds > 0 {
            uploadExpiry = UploadExpiryWorker(loop: loops[0], metadata: metadata, metrics: metrics, expirySeconds: config.multipartExpirySeconds,
                                              logger: logger)
            uploadExpiry?.start()
        }
        prober.start()
        logger.info("api listening on \(server.localAddress): \(loops.count) \(resolved.kind) loop(s), data nodes \(config.dataNodes.joined(separator: ",")), chunks of \(ByteSize.format(config.chunkSizeBytes)), window \(config.windowChunks), \(buffersPerLoop) buffers per loop, metadata \(config.metadataPath); \(Self.authSummary(config))")
        warnAboutAuth(listening: server.localAddress)
    }

    /// Which auth is on, for the log line that says where the api listens.
    private static func authSummary(_ config: APINodeConfig) -> String {
        let native = config.nativeTokens.map { "bearer token (\($0.current.count) accepted)" } ?? "OFF"
        let admin = config.adminTokens.map { "bearer token (\($0.current.count) accepted)" } ?? "off (no --admin-token-file)"
        let signing = config.requestSigner.map { "signed with cluster secret \($0.keyring.current.signing.keyID)" } ?? "UNSIGNED"
        return "\(config.tls == nil ? "plain HTTP (no --tls-cert)" : "HTTPS (TLS 1.2/1.3)"); auth: native API \(native), admin API \(admin), requests to data nodes \(signing)"
    }

    private func warnAboutAuth(listening address: SocketAddress) {
        if config.nativeTokens == nil && !address.isLoopback {
            logger.warning("the native API on \(address) is open to anyone who can reach it: give --native-auth FILE to ask for a bearer token")
        }
        if config.requestSigner == nil {
            logger.warning("no --cluster-secret-file: requests to data nodes are unsigned; data nodes started with a secret refuse them (401)")
        }
    }

    /// Signs from now on with the first of `keyring`'s secrets (read again on SIGHUP).
    public func replaceClusterSecrets(_ keyring: ClusterKeyring) {
        guard let signer = config.requestSigner else {
            logger.warning("SIGHUP: this api was started without --cluster-secret-file; signing takes a restart")
            return
        }
        signer.keyring.replace(keyring)
        logger.notice("requests to data nodes are now signed with cluster secret \(keyring.signing.keyID)")
    }

    /// Accepts from now on the admin tokens `tokens` (read again on SIGHUP).
    public func replaceAdminTokens(_ tokens: BearerTokens) {
        guard let holder = config.adminTokens else {
            logger.warning("SIGHUP: this api was started without --admin-token-file; turning the admin API on takes a restart")
            return
        }
        holder.replace(tokens)
        logger.notice("admin API: \(tokens.count) token(s) accepted")
    }

    /// Accepts from now on the native API tokens `tokens` (read again on SIGHUP).
    public func replaceNativeTokens(_ tokens: BearerTokens) {
        guard let holder = config.nativeTokens else {
            logger.warning("SIGHUP: this api was started without --native-auth; asking for tokens takes a restart")
            return
        }
        holder.replace(tokens)
        logger.notice("native API: \(tokens.count) token(s) accepted")
    }

    /// How long the start waits for every configured data node to answer its first probe.
    static let startupDiscoverySecondsMax = Duration.seconds(10)

    /// Chunk ids reserved in one metadata write: enough for a few windows of one large
    /// upload, or one chunk each of many small ones, per write.
    static func reservedIDsPerBatch(_ config: APINodeConfig) -> Int { max(64, 4 * config.windowChunks) }

    /// Stops accepting, stops the background workers, the loops and the metadata threads.
    public func stop() async {
        await server.stop()
        await s3Server?.stop()
        await gc.stop()
        await uploadExpiry?.stop()
        await repairs.stop()
        await deletions.stop()
        await prober.stop()
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
