import FlareAuth
import FlareCore
import FlareHTTP
import FlareIO
import FlareMetrics
import Logging

/// A running data node: loops, per-loop buffer pools and chunk stores, and the HTTP server.
public final class DataNodeService: @unchecked Sendable {
    public let config: DataNodeConfig
    public let metrics = NodeMetrics()
    public let loops: [EventLoop]
    public let report: DataDirectory.Report
    /// This node's persistent id (``NodeIdentity``).
    public let nodeID: NodeID
    /// The bytes this node offers: `--capacity`, or the size of its file system.
    public let capacityBytes: Int
    /// Held while the node runs: one node per data directory.
    private let directoryLock: DataDirectoryLock
    private var server: HTTPServer!
    /// The scrubber's task on the first loop; `nil` with `--scrub-interval 0`.
    private var scrubTask: Task<Void, Error>?
    private let logger: Logger

    /// The address bound (the real port when 0 was asked for).
    public var localAddress: SocketAddress { server.localAddress }

    /// Prepares the data directory, starts the loops and begins serving.
    public init(config: DataNodeConfig, logger: Logger) async throws {
        self.config = config
        self.logger = logger
        // Before anything touches the disk: a node that may not serve does not start.
        let address = try SocketAddress(host: config.host, port: config.port)
        try Self.checkAuthentication(config, address)
        directoryLock = try DataDirectoryLock(config.dataDirectory)
        // Read before anything else touches the directory: a bad id file stops the start.
        let storedID = try NodeIdentity.read(in: config.dataDirectory)
        report = try DataDirectory.prepare(config.dataDirectory)
        logger.info("data directory \(config.dataDirectory): \(report.chunkCount) chunks, \(ByteSize.format(report.bytesStored)) stored, removed \(report.removedTemporaryFiles) unfinished writes from tmp/")
        nodeID = try Self.establishIdentity(storedID, config.dataDirectory, chunkCount: report.chunkCount, logger: logger)
        capacityBytes = try Self.capacity(config, logger: logger)
        for name in report.keptTemporaryFiles {
            logger.warning("tmp/\(name) is a committed chunk under a second name with one link counted (a crash on a file system without a journal): kept, since removing it would free the chunk; check the file system (fsck) and restart")
        }
        if !report.usesDirectIO {
            logger.warning("the filesystem under \(config.dataDirectory) refuses O_DIRECT: writing through the page cache with fdatasync")
        }
        let resolved = config.engine.resolved()
        if let reason = resolved.fallbackReason {
            logger.notice("io_uring unavailable (\(reason)); using epoll")
        }
        var loops: [EventLoop] = []
        for index in 0..<config.threads {
            loops.append(try EventLoop.start(engine: resolved.kind, name: "datanode-\(index)"))
        }
        self.loops = loops
        let stats = ChunkStoreStats(metrics: metrics, chunkCount: report.chunkCount, bytesStored: report.bytesStored)
        let quarantine = try ChunkQuarantine.load(dataDirectory: config.dataDirectory, metrics: metrics, logger: logger)
        if !quarantine.entries.isEmpty {
            logger.notice("\(quarantine.entries.count) corrupt chunks in \(quarantine.directory), listed by GET /chunks/corrupt until deleted")
        }
        let bufferBytes = ChunkFormat.segmentBytes + ChunkFormat.footerBytes
        let buffersPerLoop = max(2, config.bufferPoolBytes / bufferBytes / loops.count)
        var stores: [ObjectIdentifier: ChunkStore] = [:]
        for loop in loops {
            // Built on its loop: the pool touches its pages there, and is used only there.
            let store = try await loop.run { [config, report] in
                ChunkStore(directory: config.dataDirectory, usesDirectIO: report.usesDirectIO, loop: loop,
                           pool: BufferPool(bufferBytes: bufferBytes, bufferCount: buffersPerLoop, loop: loop, hugePages: true), stats: stats,
                           quarantine: quarantine)
            }
            stores[ObjectIdentifier(loop)] = store
        }
        let routes = DataNodeRoutes(stores: stores, config: config, metrics: metrics, engine: resolved.kind,
                                    nodeID: nodeID, capacityBytes: capacityBytes, logger: logger)
        let logger = self.logger
        let metrics = self.metrics
        server = try HTTPServer(address: address, loops: loops, limits: config.httpLimits,
                                onExchange: DataNodeRoutes.recorder(metrics: metrics, logger: logger).record,
                                handler: routes.handle)
        if config.scrubIntervalSeconds > 0, let first = loops.first, let store = stores[ObjectIdentifier(first)] {
            let scrubber = ChunkScrubber(store: store, settings: .init(intervalSeconds: config.scrubIntervalSeconds,
                                                                       bytesPerSecond: config.scrubBytesPerSecond),
                                         dataDirectory: config.dataDirectory, metrics: metrics, logger: logger)
            scrubTask = first.spawn { await scrubber.run() }
        } else {
            logger.notice("scrubbing is off (--scrub-interval 0): stored chunks are checked only when read")
        }
        describeMetrics()
        logger.info("datanode listening on \(server.localAddress) with \(loops.count) \(resolved.kind) loop(s), \(buffersPerLoop) buffers of \(ByteSize.format(bufferBytes)) per loop; node \(nodeID), zone \(config.zone), capacity \(ByteSize.format(capacityBytes)); \(Self.authSummary(config))")
        if config.requestVerifier == nil {
            logger.warning(server.localAddress.isLoopback
                ? "no --cluster-secret-file: serving without authentication, on a loopback address only: anyone on this machine may store, read and delete chunks"
                : "--insecure-no-auth: serving without authentication on \(server.localAddress): anyone who can reach it may store, read and delete chunks")
        }
    }

    /// A node without a cluster secret serves anyone who reaches it: it may do so on a
    /// loopback address (a cluster on one machine, `make run`), elsewhere only when told to.
    private static func checkAuthentication(_ config: DataNodeConfig, _ address: SocketAddress) throws(DataNodeConfigError) {
        guard config.requestVerifier == nil else {
            if config.allowsUnauthenticated { throw DataNodeConfigError("--insecure-no-auth and --cluster-secret-file contradict each other: give one") }
            return
        }
        if config.metricsNeedAuth { throw DataNodeConfigError("--metrics-auth needs --cluster-secret-file: the signatures it asks for are made with it") }
        guard address.isLoopback || config.allowsUnauthenticated else {
            throw DataNodeConfigError("refusing to serve \(address) without authentication: anyone who reaches it could store and delete chunks. Give --cluster-secret-file FILE (the api's too), listen on 127.0.0.1, or pass --insecure-no-auth on a network you trust")
        }
    }

    /// Whether, and how, requests are authenticated: for the log line that says where the node listens.
    private static func authSummary(_ config: DataNodeConfig) -> String {
        guard let verifier = config.requestVerifier else { return "auth OFF (no --cluster-secret-file)" }
        let open = config.metricsNeedAuth ? "/health" : "/health and /metrics"
        return "auth on: signed requests only (cluster secret key ids \(verifier.keyring.current.keyIDs.joined(separator: ", ")), clock skew ±\(verifier.clockSkewSecondsMax) s), \(open) open"
    }

    /// Takes the secrets read again from `--cluster-secret-file` (SIGHUP): requests checked
    /// from now on are checked against them. Does nothing on a node without a secret.
    public func replaceClusterSecrets(_ keyring: ClusterKeyring) {
        guard let verifier = config.requestVerifier else {
            logger.warning("SIGHUP: this node was started without --cluster-secret-file; a secret takes a restart")
            return
        }
        verifier.keyring.replace(keyring)
        logger.notice("cluster secrets now: key ids \(keyring.keyIDs.joined(separator: ", ")) (any of them verifies)")
    }

    private func describeMetrics() {
    }

    /// The id read from the directory, or a new one written there on a first start (or in a
    /// directory an older datanode filled, which had no ids).
    private static func establishIdentity(_ stored: NodeID?, _ directory: String, chunkCount: Int,
                                          logger: Logger) throws -> NodeID {
        if let stored { return stored }
        let created = try NodeIdentity.create(in: directory)
        let path = NodeIdentity.path(in: directory)
        if chunkCount > 0 {
            logger.notice("data directory \(directory) holds \(chunkCount) chunks but no node id (written by a datanode without ids): created node id \(created) in \(path)")
        } else {
            logger.info("first start on \(directory): created node id \(created) in \(path)")
        }
        return created
    }

    /// `--capacity`, or the size of the data directory's file system.
    private static func capacity(_ config: DataNodeConfig, logger: Logger) throws -> Int {
        let fileSystemBytes = try FileSystem.totalBytes(in: config.dataDirectory)
        guard let capacity = config.capacityBytes else { return fileSystemBytes }
        if capacity > fileSystemBytes {
            logger.warning("--capacity \(ByteSize.format(capacity)) is more than the file system under \(config.dataDirectory) holds (\(ByteSize.format(fileSystemBytes)))")
        }
        return capacity
    }

    /// Stops accepting, stops the scrubber (its reads and sleeps are cancelled, and waited
    /// for: a loop stops only once nothing waits on it) and stops the loops.
    public func stop() async {
        await server.stop()
        scrubTask?.cancel()
        _ = await scrubTask?.result
        for loop in loops { loop.shutdown() }
    }
}

/// A data node configuration that must not run.
public struct DataNodeConfigError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
