import FlareAuth
import FlareHTTP
import FlareIO
import Glibc
import FlareTLS

/// Everything an API node needs to start; the `api` executable fills it from flags.
public struct APINodeConfig: Sendable {
    public var host = "127.0.0.1"
    public var port: UInt16 = 8000
    /// Data nodes as `host:port`.
    public var dataNodes: [String] = []
    public var metadataPath = "./data/meta.sqlite"
    /// The S3 API's port (its own listener on `host`); nil: no S3 API.
    public var s3Port: UInt16?
    /// `ACCESS_KEY SECRET_KEY` pairs, one per line (required with `s3Port`).
    public var s3Credentials: String = ""
    /// For virtual-host-style S3 addressing (`<bucket>.<domain>`); nil: path style only.
    public var s3BaseDomain: String?
    /// The bucket the native `/object` API reads and writes (the S3 API sees it too).
    public var nativeBucket = "flare"
    public var chunkSizeBytes = 4 << 20
    /// Chunks in flight per request (pipelined writes, parallel reads).
    public var windowChunks = 8
    /// Total bytes of chunk buffers, split over the loops.
    public var bufferPoolBytes = 512 << 20
    public var engine = IOEngineKind.auto
    public var threads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    /// Seconds chunks of replaced or deleted objects are kept for reads still running.
    public var deletionGraceSeconds = 30
    /// How long one data-node exchange (connect, send, each wait for a reply) may take.
    public var dataNodeTimeoutSeconds = 10
    /// Copies of every chunk, on distinct data nodes.
    public var replicas = 2
    /// Seconds a data node may keep failing (probes and exchanges) before it is `down`.
    public var nodeDownAfterSeconds = 5.0
    /// Seconds a data node may be down before its copies are made again on other nodes; a
    /// gone node (a wiped node's old id, one no longer configured) is repaired once the api
    /// has run that long.
    public var repairAfterSeconds = 600.0
    /// Chunks copied at once by the repair.
    public var repairConcurrency = 4
    /// Bytes per second the repair and rebalance copy at most, all copies together; 0: no limit.
    public var repairBandwidthBytesPerSecond = 256 << 20
    /// Seconds since a data node wrote a chunk before garbage collection may delete it as an
    /// orphan (no manifest, upload, queued deletion or repair refers to it), by the node's clock.
    public var gcGraceSeconds = 3600
    /// Seconds between garbage collection passes (the first one that long after the start).
    public var gcIntervalSeconds = 3600.0
    /// Seconds an S3 multipart upload may stay unfinished before it is aborted and its parts'
    /// chunks reclaimed; 0: never.
    public var multipartExpirySeconds = 7 * 86400
    /// Largest object a PUT may store (an S3 part too), bytes; S3's own limit by default.
    public var objectBytesMax = 5 << 40
    /// What the HTTP server accepts from clients, and how long it waits on them (idle,
    /// head and body timeouts).
    public var httpLimits = HTTPLimits()

    /// Signs every request to data nodes with the first cluster secret
    /// (`--cluster-secret-file`); `nil`: they go unsigned, and data nodes with a secret refuse them.
    public var requestSigner: RequestSigner?
    /// The tokens `/admin/*` takes in `Authorization: Bearer` (`--admin-token-file`); `nil`:
    /// the admin API is off (403).
    public var adminTokens: Reloadable<BearerTokens>?
    /// The tokens the native `/object` API and `/objects` take (`--native-auth`); `nil`: open.
    public var nativeTokens: Reloadable<BearerTokens>?

    /// `--metrics-auth`: `/metrics` takes an admin token like `/admin/*`.
    public var metricsNeedAuth = false
    /// HTTPS on the api's ports (`--tls-cert`, `--tls-key`); `nil`: plain HTTP.
    public var tls: TLSServerContext?

    public init() {}
}
