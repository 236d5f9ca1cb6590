/// Every metric family Flare's nodes expose: one list, so that the HELP text of a family is the
/// same wherever it is made, a family is never made with two types or two sets of label names
/// (which swift-prometheus's registry stops the process for), and the README's table can be
/// checked against it (MetricsExpositionTests).
public enum MetricCatalog {
    /// Latency buckets in seconds, from 100 µs to 10 s, of every histogram.
    public static let latencyBucketsSeconds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                         0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public static let families: [MetricFamily] = api + dataNode

    /// The api's families.
    public static let api: [MetricFamily] = exchanges(prefix: "flare_api", errors: false) + [
        .init("flare_api_request_seconds", .histogram, labels: ["method"], "Latency of object requests (/object/...), by method."),
        .init("flare_api_requests_in_flight", .gauge, "Object requests being served."),
        .init("flare_api_buffers_in_use", .gauge, labels: ["loop"], "Chunk buffers held by requests, per loop."),
        .init("flare_api_buffer_waiters", .gauge, labels: ["loop"], "Requests waiting for a chunk buffer, per loop."),
        .init("flare_api_refused_total", .counter, labels: ["reason"],
              "Requests refused by a limit before their body was read, by reason: too_large (over --max-object-size), client_connections, client_requests, client_connection_rate (429)."),
        .init("flare_api_auth_refused_total", .counter, labels: ["api", "reason"],
              "Requests refused for their bearer token, by API (admin, native) and reason (missing, wrong, off)."),
        .init("flare_api_datanode_request_seconds", .histogram, labels: ["node", "method"], "Data-node exchange latency by node and method."),
        .init("flare_api_datanode_errors_total", .counter, labels: ["node", "method"], "Failed data-node exchanges by node and method."),
        .init("flare_api_datanode_auth_refused_total", .counter, labels: ["node"],
              "Requests a data node refused for their signature (401, 403), by node."),
        .init("flare_api_datanode_state", .gauge, labels: ["node", "state"],
              "1 for the state each data node is in (up, suspect, down), by node id."),
        .init("flare_api_bad_replicas_total", .counter, labels: ["node", "reason"],
              "Replicas that could not serve a chunk (then read from the next), by node and reason."),
        .init("flare_api_corrupt_chunks_total", .counter, labels: ["node"], "Copies whose bytes failed their CRC32C on a read, by node."),
        .init("flare_api_chunks_deleted_total", .counter, "Chunk copies the deletion queue removed."),
        .init("flare_api_cleanup_deferred_total", .counter, "Copies of failed uploads left to the deletion queue."),
        .init("flare_api_repair_copies_total", .counter, labels: ["result"],
              "Chunk copies the repair made (done), found superseded, or could not make, by result."),
        .init("flare_api_repair_bytes_total", .counter, "Bytes of chunk copies the repair made."),
        .init("flare_api_repair_reason_copies_total", .counter, labels: ["reason"],
              "Copies the repair made, by why: lost, bad, few (below --replicas), misplaced (rebalance, drain)."),
        .init("flare_api_repair_pending_chunks", .gauge, "Chunks with a lost copy in the page the repair is working on."),
        .init("flare_api_repair_lost_nodes", .gauge, "Nodes whose copies are lost now: down for --repair-after, removed, or gone."),
        .init("flare_api_repair_pass_chunks", .gauge, "Copies the current repair pass found to make (0 when idle)."),
        .init("flare_api_repair_pass_chunks_done", .gauge, "Copies the current repair pass has made."),
        .init("flare_api_repair_pass_bytes", .gauge, "Bytes the current repair pass found to copy."),
        .init("flare_api_repair_pass_bytes_done", .gauge, "Bytes the current repair pass has copied."),
        .init("flare_api_repair_eta_seconds", .gauge, "Seconds the current repair pass needs at its rate so far (-1: not known yet)."),
        .init("flare_api_layout_version", .gauge, "The cluster layout's version (raised by every node added, drained, removed or reweighed)."),
        .init("flare_api_gc_passes_total", .counter, "Garbage collection passes over the data nodes."),
        .init("flare_api_gc_deleted_chunks_total", .counter, "Orphan chunk copies garbage collection deleted."),
        .init("flare_api_gc_last_pass_orphans", .gauge,
              "Orphan chunk copies (older than --gc-grace, nothing refers to them) the last garbage collection pass found."),
        .init("flare_api_multipart_expired_total", .counter, "S3 multipart uploads aborted for staying unfinished past --multipart-expiry."),
    ]

    /// The data nodes' families.
    public static let dataNode: [MetricFamily] = exchanges(prefix: "flare_datanode", errors: true) + [
        .init("flare_datanode_write_seconds", .histogram, "Chunk PUT latency, durable (fdatasync and rename) before the answer."),
        .init("flare_datanode_read_seconds", .histogram, "Chunk GET latency."),
        .init("flare_datanode_chunks", .gauge, "Chunks stored on this node."),
        .init("flare_datanode_stored_bytes", .gauge, "Bytes of chunk files on disk (data, padding and footers)."),
        .init("flare_datanode_free_bytes", .gauge, "Free bytes on the data directory's file system."),
        .init("flare_datanode_buffers_in_use", .gauge, labels: ["loop"], "Chunk buffers held, per loop."),
        .init("flare_datanode_corrupt_chunks_total", .counter, "Reads that found a chunk failing its checksums."),
        .init("flare_datanode_quarantined_chunks", .gauge,
              "Chunks found corrupt and kept in quarantine/ (never served; listed by GET /chunks/corrupt) until deleted."),
        .init("flare_datanode_cleanup_failures_total", .counter, "Temporary files that could not be removed after a failed write."),
        .init("flare_datanode_auth_refused_total", .counter, labels: ["reason"],
              "Requests refused for their signature (missing, malformed, unknown_key, bad_signature, stale, replayed, ...), by reason."),
        .init("flare_datanode_auth_nonces", .gauge, "Nonces remembered against replays."),
        .init("flare_datanode_scrub_chunks_total", .counter, labels: ["result"],
              "Chunks the scrubber read whole, by result: ok, corrupt (quarantined) or error (unreadable, kept)."),
        .init("flare_datanode_scrub_bytes_total", .counter, "Bytes of chunk files the scrubber read."),
        .init("flare_datanode_scrub_passes_total", .counter, "Scrub passes that checked every chunk."),
        .init("flare_datanode_scrub_pass_chunks", .gauge, "Chunks checked so far in the current (or last) scrub pass."),
        .init("flare_datanode_scrub_pass_chunks_total", .gauge, "Chunks listed for the current (or last) scrub pass."),
        .init("flare_datanode_scrub_last_pass_end_seconds", .gauge, "Unix time the last whole scrub pass ended."),
        .init("flare_datanode_scrub_last_pass_duration_seconds", .gauge, "How long the last whole scrub pass took."),
    ]

    /// What HTTPExchangeRecorder counts for every exchange of a node.
    private static func exchanges(prefix: String, errors: Bool) -> [MetricFamily] {
        var families: [MetricFamily] = [
            .init(prefix + "_requests_total", .counter, labels: ["method", "status"], "Requests answered, by method and status."),
            .init(prefix + "_received_bytes_total", .counter, "Bytes received: request heads and bodies."),
            .init(prefix + "_sent_bytes_total", .counter, "Bytes sent: response heads and bodies."),
        ]
        if errors {
            families.append(.init(prefix + "_errors_total", .counter, labels: ["kind"],
                                  "5xx answers and failed exchanges (http_<status>), I/O errors (io_<errno>), scrub state errors."))
        }
        return families
    }

    /// The family of that name, if there is one.
    public static func family(_ name: String) -> MetricFamily? { byName[name] }

    private static let byName: [String: MetricFamily] = Dictionary(families.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
}
