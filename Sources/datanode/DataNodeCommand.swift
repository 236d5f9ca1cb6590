import ArgumentParser
import FlareAuth
import FlareCommandLine
import FlareCore
import FlareDataNode
import FlareIO
import Logging

@main
struct DataNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datanode",
        abstract: "A Flare data node: stores and serves chunks by id, written with O_DIRECT on io_uring.",
        discussion: """
        API: PUT /chunk/{id} (Content-Length and X-Flare-Checksum: crc32c=<hex> required), \
        GET /chunk/{id} (Range supported), HEAD, DELETE, GET /chunks (stored ids and lengths), \
        GET /chunks?older-than=SECONDS (one id per line: chunks written at least that long ago by this node's \
        clock, for the api's garbage collection), \
        GET /chunks/corrupt (quarantined chunks: {"chunks":[{"id","reason","found_ns"}]}), GET /health, GET /metrics.

        Chunk ids are 32 lowercase hex characters. On its first start over a data directory the \
        node creates its id (32 lowercase hex) in <data-dir>/node-id and keeps it from then on; \
        /health reports it with the zone, the capacity and the bytes used. A node-id file that \
        cannot be read or holds no id stops the start.

        Scrubbing: every --scrub-interval seconds the node re-reads every chunk at --scrub-bandwidth \
        and checks it against its CRC32Cs. A chunk that fails (there, or on any client read) is moved \
        to <data-dir>/quarantine/ with its reason and never served again: GET and HEAD answer 404, \
        a PUT of the id is accepted, DELETE removes the quarantined copy too. The time the last pass \
        ended is kept in <data-dir>/scrub-state, so a restart does not scrub again at once; the \
        first pass comes one interval after the first start with scrubbing on (an interrupted pass runs again once due).

        Authentication: with --cluster-secret-file, every request but GET /health (and GET /metrics, unless \
        --metrics-auth) must be signed by an api node with one of the file's secrets (Authorization: \
        Flare-HMAC-SHA256 over the method, target, Content-Length, Range, X-Flare-Checksum, X-Flare-Node-Id, \
        a time and a nonce). Unsigned or mis-signed requests are refused with 401, requests signed more than \
        --max-clock-skew seconds away from this node's clock or sent a second time with 403, before any of the \
        body is read. Without --cluster-secret-file the node serves anyone: it does so only on a loopback \
        address (127.0.0.1, ::1; with a warning in the log), and refuses to start on any other unless \
        --insecure-no-auth is given. SIGHUP reads the secret files again (rotation without a restart: see the README).

        Stop with Ctrl-C or SIGTERM.
        """)

    @Option(help: "Address to listen on (127.0.0.1: this machine only; any other address needs --cluster-secret-file or --insecure-no-auth).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port: UInt16 = 9001

    @Option(name: .customLong("data-dir"), help: "Directory for chunks, used by this node alone (default: ./data/datanode-<port>).")
    var dataDirectory: String?

    @Option(help: ArgumentHelp("The zone this node is in (a rack, a room, an availability zone): 1-64 characters of A-Z a-z 0-9 . _ -. Reported in /health; placement keeps a chunk's replicas in different zones where it can.",
                               valueName: "name"))
    var zone = NodeZone.defaultName

    @Option(help: ArgumentHelp("Bytes this node offers for chunks, e.g. 500GiB, reported in /health with the bytes used (default: the size of the file system holding --data-dir).",
                               valueName: "size"))
    var capacity: String?

    @Option(name: .customLong("chunk-size-max"), help: "Largest chunk accepted, e.g. 64MiB.")
    var chunkSizeMax = "64MiB"

    @Option(name: .customLong("buffer-pool"), help: "Total bytes of 4 MiB chunk buffers, e.g. 256MiB.")
    var bufferPool = "256MiB"

    @Option(name: .customLong("scrub-interval"),
            help: ArgumentHelp("Seconds from the end of one scrub pass (a re-read and check of every chunk) to the start of the next, e.g. 86400 for daily; fractions allowed; 0 turns scrubbing off; the default is a week.",
                               valueName: "seconds"))
    var scrubInterval: Double = DataNodeConfig().scrubIntervalSeconds

    @Option(name: .customLong("scrub-bandwidth"),
            help: ArgumentHelp("Bytes per second a scrub pass may read, on average, e.g. 16MiB; 0 for no limit. Keep it well under the disk's speed: clients share the disk with it.",
                               valueName: "size"))
    var scrubBandwidth = "16MiB"

    @OptionGroup var secrets: ClusterSecretOptions

    @Option(name: .customLong("max-clock-skew"),
            help: ArgumentHelp("Seconds a signed request's time may be from this node's clock, either way (1-3600); the nonces of accepted requests are kept that long to refuse replays.",
                               valueName: "seconds"))
    var maxClockSkew = RequestVerifier.clockSkewSecondsDefault

    @Flag(name: .customLong("metrics-auth"), help: "GET /metrics needs a signed request too (only GET /health stays open).")
    var metricsAuth = false

    @Flag(name: .customLong("insecure-no-auth"),
          help: "Serve without a cluster secret on a non-loopback --host: anyone who can reach the port may store, read and delete chunks. Only for a network you trust entirely.")
    var insecureNoAuth = false

    @OptionGroup var runtime: RuntimeOptions

    @OptionGroup var http: HTTPTimeoutOptions

    /// A year: a longer interval is a typo, and an interval so long that it never comes is `0`.
    static let scrubIntervalSecondsMax = 366.0 * 86_400

    func validate() throws {
        guard NodeZone.isValid(zone) else {
            throw ValidationError("--zone must be 1-\(NodeZone.nameBytesMax) characters of A-Z a-z 0-9 . _ - (got \(zone.debugDescription))")
        }
        if let capacity {
            guard let bytes = ByteSize.parse(capacity), bytes > 0 else {
                throw ValidationError("--capacity must be a size above 0 like 500GiB or 2TiB (got \(capacity.debugDescription))")
            }
        }
        guard let max = ByteSize.parse(chunkSizeMax), max > 0, ChunkFormat.segmentCount(max) <= ChunkFormat.segmentsMax else {
            throw ValidationError("--chunk-size-max must be a size like 64MiB, at most \(ChunkFormat.segmentsMax * 4) MiB")
        }
        guard let pool = ByteSize.parse(bufferPool), pool >= 8 << 20 else {
            throw ValidationError("--buffer-pool must be a size of at least 8MiB, like 256MiB")
        }
        guard scrubInterval.isFinite, (0...Self.scrubIntervalSecondsMax).contains(scrubInterval) else {
            throw ValidationError("--scrub-interval must be 0 (off) to \(Int(Self.scrubIntervalSecondsMax)) seconds (a year), like 604800 for a week (got \(scrubInterval))")
        }
        guard (1...3600).contains(maxClockSkew) else {
            throw ValidationError("--max-clock-skew must be 1…3600 seconds (default \(RequestVerifier.clockSkewSecondsDefault))")
        }
        if insecureNoAuth && !secrets.clusterSecretFiles.isEmpty {
            throw ValidationError("--insecure-no-auth and --cluster-secret-file contradict each other: give one")
        }
        if metricsAuth && secrets.clusterSecretFiles.isEmpty {
            throw ValidationError("--metrics-auth needs --cluster-secret-file: /metrics is then signed like the other routes")
        }
        guard ByteSize.parse(scrubBandwidth) != nil else {
            throw ValidationError("--scrub-bandwidth must be a size per second like 16MiB, or 0 for no limit (got \(scrubBandwidth.debugDescription))")
        }
    }

    func run() async throws {
        runtime.bootstrapLogging()
        let logger = Logger(label: "datanode:\(port)")
        ProcessSignals.ignoreBrokenPipes()
        var config = DataNodeConfig()
        config.host = host
        config.port = port
        config.dataDirectory = dataDirectory ?? "./data/datanode-\(port)"
        config.zone = zone
        config.capacityBytes = capacity.flatMap(ByteSize.parse)
        config.engine = try runtime.engine()
        if let threads = runtime.threads { config.threads = threads }
        config.httpLimits = http.limits()
        config.chunkSizeMaxBytes = ByteSize.parse(chunkSizeMax)!
        config.bufferPoolBytes = ByteSize.parse(bufferPool)!
        config.scrubIntervalSeconds = scrubInterval
        config.scrubBytesPerSecond = ByteSize.parse(scrubBandwidth)!
        do {
            if let keyring = try secrets.keyring(logger: logger) {
                config.requestVerifier = RequestVerifier(keyring: Reloadable(keyring), clockSkewSecondsMax: maxClockSkew)
            }
        } catch {
            throw ValidationError("--cluster-secret-file: \(error)")
        }
        config.allowsUnauthenticated = insecureNoAuth
        config.metricsNeedAuth = metricsAuth
        let secrets = self.secrets
        try await serveUntilTerminated(logger: logger, start: { try await DataNodeService(config: config, logger: logger) },
                                       reload: { service in
                                           // A file that fails to read or parse leaves the secrets as they were.
                                           do {
                                               if let keyring = try secrets.keyring(logger: logger) { service.replaceClusterSecrets(keyring) }
                                           } catch {
                                               logger.error("SIGHUP: --cluster-secret-file: \(error); keeping the secrets in use")
                                           }
                                       },
                                       stop: { await $0.stop() })
    }
}
