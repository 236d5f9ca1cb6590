import ArgumentParser
import FlareAPINode
import FlareAuth
import FlareCommandLine
import FlareCore
import FlareIO
import FlareTLS
import Logging

@main
struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "The Flare API node: streams objects in and out, chunked over data nodes.",
        discussion: """
        Objects: PUT/GET/HEAD/DELETE /object/{key} (GET supports Range), GET /objects?prefix=&start-after=&limit=, \
        GET /health, GET /metrics.
        Example: api --datanodes 127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003
        Upload large files with `curl -T file http://host:port/object/key` (curl's --data-binary loads the whole \
        file into memory first and refuses files of 1 GiB or more).

        Authentication: requests to data nodes are signed with the first secret of --cluster-secret-file (data \
        nodes with a secret refuse unsigned ones). /admin/* (the flare CLI) needs Authorization: Bearer <token> with \
        a token of --admin-token-file, and is off (403) without it. The native /object API and /objects ask for \
        a bearer token only with --native-auth FILE; without it they are open, and the api warns when it listens \
        on a non-loopback --host. The S3 listener keeps its own keys (--s3-credentials). /health and /metrics are \
        open. SIGHUP reads every secret and token file again (rotation without a restart: see the README).
        """)

    @Option(help: "Address to listen on (the native API is open to whoever reaches it unless --native-auth).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port: UInt16 = 8000

    @Option(help: "Data nodes, comma-separated host:port (required).")
    var datanodes: String?

    @Option(help: "SQLite metadata file, owned by this process alone (a second api on it refuses to start).")
    var metadata = "./data/meta.sqlite"

    @Option(name: .customLong("s3-port"), help: "Port of the S3 API (its own listener on --host); off when not given. Needs --s3-credentials.")
    var s3Port: UInt16?

    @Option(name: .customLong("s3-credentials"), help: ArgumentHelp("File of S3 keys, one ACCESS_KEY SECRET_KEY pair per line (# comments); every S3 request must be signed with one.", valueName: "file"))
    var s3Credentials: String?

    @Option(name: .customLong("s3-domain"), help: ArgumentHelp("Domain for virtual-host-style S3 requests (Host: <bucket>.<domain>); path style always works.", valueName: "domain"))
    var s3Domain: String?

    @Option(name: .customLong("native-bucket"), help: "The bucket the native /object API reads and writes (3-63 of a-z 0-9 . -); objects stored before buckets are in flare.")
    var nativeBucket = "flare"

    @Option(name: .customLong("chunk-size"), help: "Chunk size, a multiple of 4KiB (e.g. 64KiB, 4MiB, 1GiB).")
    var chunkSize = "4MiB"

    @Option(help: "Chunks in flight per request (pipelined writes, parallel reads).")
    var window = 8

    @Option(name: .customLong("buffer-pool"), help: "Total bytes of chunk buffers; requests wait when it is used up.")
    var bufferPool = "512MiB"

    @Option(name: .customLong("deletion-grace"), help: "Seconds a replaced or deleted object's chunks are kept for reads in progress.")
    var deletionGrace = 30

    @Option(name: .customLong("datanode-timeout"), help: "Seconds a data node may take to connect (2 at most), accept a chunk or answer, before the next replica or node is tried.")
    var datanodeTimeout = 10

    @Option(help: "Copies of every chunk, each on a different data node (and zone, while there are enough zones); a PUT is answered only when all are durable. At most the number of --datanodes.")
    var replicas = 2

    @Option(name: .customLong("node-down-after"), help: "Seconds a data node may keep failing (probes each second, requests) before it is down rather than suspect. Either way it gets new chunks and reads only when the others are not enough.")
    var nodeDownAfter = 5.0

    @Option(name: .customLong("repair-after"), help: "Seconds a data node may be down before its copies are made again on the other nodes. A removed node's copies are made again at once; a gone node's (a wiped node's old id) once the api has run this long.")
    var repairAfter = 600.0

    @Option(name: .customLong("repair-concurrency"), help: "Chunks the repair copies at once (each holds one chunk buffer).")
    var repairConcurrency = 4

    @Option(name: .customLong("repair-bandwidth"), help: ArgumentHelp("Bytes per second repair and rebalancing copy at most, all copies together, e.g. 256MiB; 0 for no limit. Clients' requests are never held back for repair either way.", valueName: "size"))
    var repairBandwidth = "256MiB"

    @Option(name: .customLong("gc-grace"), help: "Seconds since a data node wrote a chunk (by its own clock) before garbage collection may delete it as an orphan: a copy no manifest, upload in flight, queued deletion or repair refers to. 0 is allowed (it is safe: every copy is rechecked under its lock).")
    var gcGrace = 3600

    @Option(name: .customLong("gc-interval"), help: "Seconds between garbage collection passes over the data nodes that are up (the first one that long after the start).")
    var gcInterval = 3600.0

    @Option(name: .customLong("multipart-expiry"), help: "Seconds an S3 multipart upload may stay unfinished (not completed or aborted) before it is aborted and its parts' chunks are reclaimed; 0 keeps unfinished uploads forever. A week by default.")
    var multipartExpiry = 7 * 86400

    @Option(name: .customLong("max-object-size"), help: ArgumentHelp("Largest object a PUT may store (each S3 part too), e.g. 100GiB: a larger Content-Length is refused with 413 before any byte is read, a longer chunked body when it gets there. S3's own limit, 5TiB, by default.", valueName: "size"))
    var maxObjectSize = "5TiB"

    @OptionGroup var secrets: ClusterSecretOptions

    @Option(name: .customLong("admin-token-file"),
            help: ArgumentHelp("File of admin tokens, one per line (# comments), each at least 16 characters: /admin/* needs Authorization: Bearer <one of them> (flare --token-file). Without it the admin API is off.",
                               valueName: "file"))
    var adminTokenFile: String?

    @Option(name: .customLong("native-auth"),
            help: ArgumentHelp("File of tokens, one per line: the native /object API and /objects then need Authorization: Bearer <one of them> (curl -H). Off by default.",
                               valueName: "file"))
    var nativeAuth: String?

    @Option(name: .customLong("max-connections-per-client"),
            help: ArgumentHelp("Open connections one client address may hold; more are answered 429 and closed (0: no limit).", valueName: "n"))
    var maxConnectionsPerClient = 1024

    @Option(name: .customLong("max-requests-per-client"),
            help: ArgumentHelp("Requests one client address may have in flight at once; more are answered 429 (0: no limit).", valueName: "n"))
    var maxRequestsPerClient = 256

    @Option(name: .customLong("max-connection-rate-per-client"),
            help: ArgumentHelp("Connections one client address may open per second (bursts of twice that); faster ones are answered 429 and closed (0: no limit).",
                               valueName: "n"))
    var maxConnectionRatePerClient = 500

    @Flag(name: .customLong("metrics-auth"), help: "GET /metrics needs an admin token too (Authorization: Bearer, of --admin-token-file); only GET /health and the console's page stay open.")
    var metricsAuth = false

    @Option(name: .customLong("tls-cert"),
            help: ArgumentHelp("PEM certificate chain (the api's certificate first): with --tls-key, the api (and its S3 port) speaks HTTPS only, TLS 1.2 or 1.3.",
                               valueName: "file"))
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "file"))
    var tlsKey: String?

    @OptionGroup var runtime: RuntimeOptions

    @OptionGroup var http: HTTPTimeoutOptions

    func validate() throws {
        guard let datanodes, !datanodes.isEmpty else {
            throw ValidationError("--datanodes is required, e.g. --datanodes 127.0.0.1:9001,127.0.0.1:9002")
        }
        let nodes = datanodes.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        for node in nodes {
            do {
                _ = try SocketAddress(parsing: node)
            } catch {
                throw ValidationError("--datanodes: '\(node)' is not host:port (host numeric, or localhost)")
            }
        }
        guard Set(nodes).count == nodes.count else { throw ValidationError("--datanodes lists a node twice") }
        guard replicas >= 1, replicas <= nodes.count else {
            throw ValidationError("--replicas \(replicas) needs at least \(max(replicas, 1)) data nodes, and --datanodes names \(nodes.count); give more nodes or fewer --replicas (1 keeps one copy: a lost disk loses data)")
        }
        guard let size = ByteSize.parse(chunkSize), size >= 4096, size % 4096 == 0, size <= 1 << 30 else {
            throw ValidationError("--chunk-size must be a multiple of 4KiB between 4KiB and 1GiB, like 4MiB")
        }
        guard (1...256).contains(window) else { throw ValidationError("--window must be 1…256") }
        guard let pool = ByteSize.parse(bufferPool), pool >= size * (window + 1) else {
            throw ValidationError("--buffer-pool must hold at least window+1 chunks (\(ByteSize.format(size * (window + 1))))")
        }
        guard (3...63).contains(nativeBucket.utf8.count), nativeBucket.utf8.allSatisfy({ (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2e || $0 == 0x2d }),
              nativeBucket.first?.isLetter == true || nativeBucket.first?.isNumber == true else {
            throw ValidationError("--native-bucket must be 3-63 characters of a-z 0-9 . - starting with a letter or digit (got \(nativeBucket.debugDescription))")
        }
        if s3Port != nil && s3Credentials == nil {
            throw ValidationError("--s3-port needs --s3-credentials FILE (one ACCESS_KEY SECRET_KEY pair per line)")
        }
        if s3Port == nil && s3Credentials != nil { throw ValidationError("--s3-credentials is for the S3 API: give --s3-port too") }
        if let s3Port, s3Port == port, port != 0 { throw ValidationError("--s3-port must differ from --port (\(port))") }
        guard deletionGrace >= 0 else { throw ValidationError("--deletion-grace must be ≥ 0") }
        guard (1...600).contains(datanodeTimeout) else { throw ValidationError("--datanode-timeout must be 1…600 seconds") }
        guard (1...3600).contains(nodeDownAfter) else { throw ValidationError("--node-down-after must be 1…3600 seconds") }
        guard (0...86400 * 30).contains(repairAfter) else { throw ValidationError("--repair-after must be 0…2592000 seconds") }
        guard (1...64).contains(repairConcurrency) else { throw ValidationError("--repair-concurrency must be 1…64") }
        guard repairBandwidth == "0" || ByteSize.parse(repairBandwidth).map({ $0 > 0 }) == true else {
            throw ValidationError("--repair-bandwidth must be a size per second like 256MiB, or 0 for no limit (got \(repairBandwidth.debugDescription))")
        }
        guard (0...Self.gcGraceSecondsMax).contains(gcGrace) else {
            throw ValidationError("--gc-grace must be 0…\(Self.gcGraceSecondsMax) seconds (3600, an hour, by default)")
        }
        guard (0...Self.gcGraceSecondsMax).contains(multipartExpiry) else {
            throw ValidationError("--multipart-expiry must be 0…\(Self.gcGraceSecondsMax) seconds (0: never; a week by default)")
        }
        guard ByteSize.parse(maxObjectSize).map({ $0 > 0 }) == true else {
            throw ValidationError("--max-object-size must be a size like 100GiB or 5TiB (got \(maxObjectSize.debugDescription))")
        }
        guard (0.1...Self.gcIntervalSecondsMax).contains(gcInterval) else {
            throw ValidationError("--gc-interval must be 0.1…\(Int(Self.gcIntervalSecondsMax)) seconds (3600, an hour, by default)")
        }
    }

    /// Ten years: the most a data node's `/chunks?older-than=` takes.
    static let gcGraceSecondsMax = 10 * 365 * 86400
    /// A week: collection less often than that lets orphans pile up for no gain.
    static let gcIntervalSecondsMax = 7 * 86400.0

    func run() async throws {
        runtime.bootstrapLogging()
        let logger = Logger(label: "api:\(port)")
        ProcessSignals.ignoreBrokenPipes()
        var config = APINodeConfig()
        config.host = host
        config.port = port
        config.dataNodes = datanodes!.split(separator: ",").map(String.init)
        config.metadataPath = metadata
        config.nativeBucket = nativeBucket
        config.s3Port = s3Port
        config.s3BaseDomain = s3Domain
        if let s3Credentials {
            do {
                config.s3Credentials = try String(contentsOfFile: s3Credentials, encoding: .utf8)
            } catch {
                throw ValidationError("--s3-credentials: cannot read \(s3Credentials): \(error.localizedDescription)")
            }
        }
        config.chunkSizeBytes = ByteSize.parse(chunkSize)!
        config.windowChunks = window
        config.bufferPoolBytes = ByteSize.parse(bufferPool)!
        config.deletionGraceSeconds = deletionGrace
        config.dataNodeTimeoutSeconds = datanodeTimeout
        config.replicas = replicas
        config.nodeDownAfterSeconds = nodeDownAfter
        config.repairAfterSeconds = repairAfter
        config.repairConcurrency = repairConcurrency
        config.repairBandwidthBytesPerSecond = repairBandwidth == "0" ? 0 : ByteSize.parse(repairBandwidth)!
        config.gcGraceSeconds = gcGrace
        config.gcIntervalSeconds = gcInterval
        config.multipartExpirySeconds = multipartExpiry
        config.objectBytesMax = ByteSize.parse(maxObjectSize)!
        config.engine = try runtime.engine()
        if let threads = runtime.threads { config.threads = threads }
        config.httpLimits = http.limits()
        guard maxConnectionsPerClient >= 0, maxRequestsPerClient >= 0, maxConnectionRatePerClient >= 0 else {
            throw ValidationError("--max-connections-per-client, --max-requests-per-client and --max-connection-rate-per-client are counts (0: no limit)")
        }
        config.httpLimits.clients = .init(connectionsMax: maxConnectionsPerClient, requestsInFlightMax: maxRequestsPerClient,
                                          connectionsPerSecond: maxConnectionRatePerClient)
        if metricsAuth && adminTokenFile == nil {
            throw ValidationError("--metrics-auth needs --admin-token-file: /metrics then takes an admin token")
        }
        config.metricsNeedAuth = metricsAuth
        switch (tlsCert, tlsKey) {
        case (nil, nil): break
        case (let cert?, let key?):
            do {
                config.tls = try TLSServerContext(certificateChainFile: cert, privateKeyFile: key)
            } catch {
                throw ValidationError("\(error)")
            }
        default: throw ValidationError("--tls-cert and --tls-key go together")
        }
        let credentials = Credentials(secrets: secrets, adminTokenFile: adminTokenFile, nativeAuth: nativeAuth)
        do {
            if let keyring = try secrets.keyring(logger: logger) { config.requestSigner = RequestSigner(keyring: Reloadable(keyring)) }
        } catch {
            throw ValidationError("--cluster-secret-file: \(error)")
        }
        do {
            config.adminTokens = try credentials.adminTokens(logger: logger).map { Reloadable($0) }
        } catch {
            throw ValidationError("--admin-token-file: \(error)")
        }
        do {
            config.nativeTokens = try credentials.nativeTokens(logger: logger).map { Reloadable($0) }
        } catch {
            throw ValidationError("--native-auth: \(error)")
        }
        try await serveUntilTerminated(logger: logger, start: { try await APINodeService(config: config, logger: logger) },
                                       reload: { credentials.reload(into: $0, logger: logger) },
                                       stop: { await $0.stop() })
    }
}

/// The api's secret and token files, read at the start and again on SIGHUP.
struct Credentials: Sendable {
    let secrets: ClusterSecretOptions
    let adminTokenFile: String?
    let nativeAuth: String?

    func adminTokens(logger: Logger) throws(CredentialFileError) -> BearerTokens? {
        guard let adminTokenFile else { return nil }
        return try BearerTokens(parsing: CredentialFile.read(adminTokenFile, logger: logger), source: adminTokenFile)
    }

    func nativeTokens(logger: Logger) throws(CredentialFileError) -> BearerTokens? {
        guard let nativeAuth else { return nil }
        return try BearerTokens(parsing: CredentialFile.read(nativeAuth, logger: logger), source: nativeAuth)
    }

    /// Reads every file again and hands the service what changed; a file that fails to read
    /// or parse leaves what it holds as it was (and says so).
    func reload(into service: APINodeService, logger: Logger) {
        do {
            if let keyring = try secrets.keyring(logger: logger) { service.replaceClusterSecrets(keyring) }
        } catch {
            logger.error("SIGHUP: --cluster-secret-file: \(error); keeping the secret in use")
        }
        do {
            if let tokens = try adminTokens(logger: logger) { service.replaceAdminTokens(tokens) }
        } catch {
            logger.error("SIGHUP: --admin-token-file: \(error); keeping the tokens in use")
        }
        do {
            if let tokens = try nativeTokens(logger: logger) { service.replaceNativeTokens(tokens) }
        } catch {
            logger.error("SIGHUP: --native-auth: \(error); keeping the tokens in use")
        }
    }
}
