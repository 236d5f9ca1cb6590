/// `GET /admin/repair`: what the repair is doing, its current or last pass, and totals.
public struct RepairStatus: Codable, Sendable, Equatable {
    /// `idle`, `scanning` or `copying`.
    public var state: String
    public var replicas: Int
    /// The copy bandwidth limit; 0 for none.
    public var bandwidthBytesPerSecond: Double
    /// Ids of the nodes whose copies are being made again.
    public var lostNodes: [String]
    /// The pass in progress or the last one; `nil` before the first.
    public var pass: Pass?
    public var totals: Totals

    /// One pass over the manifests.
    public struct Pass: Codable, Sendable, Equatable {
        /// Wall-clock start, nanoseconds since the epoch.
        public var startedNanoseconds: Int64
        public var chunksTotal: Int
        public var chunksDone: Int
        public var bytesTotal: Int
        public var bytesDone: Int
        /// `nil` while the pass has not copied long enough to measure.
        public var rateBytesPerSecond: Double?
        /// `nil` while there is no rate to extrapolate from.
        public var etaSeconds: Double?
        /// Chunks found with a copy on a lost node.
        public var lost: Int
        /// Chunks with fewer copies than `replicas`.
        public var few: Int
        /// Chunks with copies where placement no longer wants them.
        public var misplaced: Int
        /// Copies that failed their checksum.
        public var bad: Int

        enum CodingKeys: String, CodingKey {
            case startedNanoseconds = "started_ns"
            case chunksTotal = "chunks_total"
            case chunksDone = "chunks_done"
            case bytesTotal = "bytes_total"
            case bytesDone = "bytes_done"
            case rateBytesPerSecond = "rate_bytes_per_second"
            case etaSeconds = "eta_seconds"
            case lost, few, misplaced, bad
        }
    }

    /// Since the api started.
    public struct Totals: Codable, Sendable, Equatable {
        public var copies: Int
        public var bytes: Int
        public var failed: Int
    }

    enum CodingKeys: String, CodingKey {
        case state, replicas
        case bandwidthBytesPerSecond = "bandwidth_bytes_per_second"
        case lostNodes = "lost_nodes"
        case pass, totals
    }
}
