import FlareAuth
import FlareCore
import FlareHTTP
import FlareIO
import Glibc

/// Everything a data node needs to start; the `datanode` executable fills it from flags.
public struct DataNodeConfig: Sendable {
    public var host = "127.0.0.1"
    public var port: UInt16 = 9001
    public var dataDirectory = "./data/datanode-9001"
    /// The zone this node reports (``NodeZone/isValid(_:)``).
    public var zone = NodeZone.defaultName
    /// The bytes this node offers for chunks, as reported to the api nodes; `nil`: the size
    /// of the file system holding ``dataDirectory``.
    public var capacityBytes: Int?
    public var engine = IOEngineKind.auto
    /// Event loops (one thread each); default: one per core.
    public var threads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    /// Largest chunk accepted → 413.
    public var chunkSizeMaxBytes = 64 << 20
    /// Total bytes of chunk buffers, split over the loops.
    public var bufferPoolBytes = 256 << 20
    /// What the HTTP server accepts from clients, and how long it waits on them (idle,
    /// head and body timeouts).
    public var httpLimits = HTTPLimits()
    /// Seconds from the end of one scrub pass (a re-read of every chunk) to the start of the
    /// next; 0: no scrubbing. See ``ChunkScrubber``.
    public var scrubIntervalSeconds: Double = 7 * 86_400
    /// The most bytes per second a scrub pass reads, on average; 0: unlimited.
    public var scrubBytesPerSecond = 16 << 20

    /// Checks that requests are signed with the cluster secret (`--cluster-secret-file`);
    /// `nil`: nobody is asked who they are, which the node allows only on a loopback address
    /// or with ``allowsUnauthenticated``.
    public var requestVerifier: RequestVerifier?
    /// `--insecure-no-auth`: serve without a cluster secret on any address.
    public var allowsUnauthenticated = false
    /// `--metrics-auth`: `/metrics` needs a signed request too (only `/health` stays open).
    public var metricsNeedAuth = false

    public init() {}
}

