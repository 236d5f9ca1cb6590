import ArgumentParser
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

        Stop with Ctrl-C or SIGTERM.
        """)

    @Option(help: "Address to listen on.")
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
        try await serveUntilTerminated(logger: logger, start: { try await DataNodeService(config: config, logger: logger) },
                                       stop: { await $0.stop() })
    }
}
