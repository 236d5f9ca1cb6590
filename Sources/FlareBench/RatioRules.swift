/// Which baseline each workload is judged against. Large transfers are bounded by the
/// slower of the wire and the disk; small objects by request round trips.
public enum RatioRules {
    /// The ratios of a run: every workload against the physical bound, the curl object
    /// against the minimal pipeline moving it (`pipeline-put-curl-*`, `pipeline-get-curl-*`),
    /// and against nginx doing the same job when nginx was measured; an S3 row against the
    /// native workload of its shape (``S3RowName``).
    public static func ratios(workloads: [WorkloadResult], baselines: [BaselineResult]) -> [Ratio] {
        let byName = Dictionary(baselines.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let workloadsByName = Dictionary(workloads.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var ratios: [Ratio] = []
        for workload in workloads {
            let copies = workload.replicas ?? 1
            // An S3 row is judged against the native API moving the same shape in the same
            // run, and against its client reading from nginx (the client's own ceiling); the
            // native row carries the machine's bounds.
            if let s3 = S3RowName(parsing: workload.baseName) {
                let suffix = String(workload.name.dropFirst(workload.baseName.count))
                if let native = workloadsByName[s3.nativeName + suffix] {
                    ratios.append(Ratio(workload: workload.name, baseline: "\(native.name) (native)", flare: workload.figure, reference: native.figure))
                }
                if suffix.isEmpty, let ceiling = byName[s3.nginxName] {
                    ratios.append(Ratio(workload: workload.name, baseline: ceiling.name, flare: workload.figure, reference: ceiling.figure))
                }
                if workload.baseName != workload.name, let first = workloadsByName[workload.baseName] {
                    ratios.append(Ratio(workload: workload.name, baseline: "\(first.name) (replicas \(first.replicas ?? 1))",
                                        flare: workload.figure, reference: first.figure))
                }
                continue
            }
            // With N copies a PUT writes N times its bytes to the one disk here: judged
            // against fio's durable write divided by N (the ratio is PUT × N ÷ fio).
            if copies > 1 && workload.operation == "put" && !workload.isSmall {
                if let synced = byName["odirect-write-fsync"] {
                    ratios.append(Ratio(workload: workload.name, baseline: "\(synced.name)/\(copies)", flare: workload.figure,
                                        reference: synced.figure / Double(copies)))
                }
            } else {
                if let bound = physicalBound(for: workload, byName) {
                    ratios.append(Ratio(workload: workload.name, baseline: bound.name, flare: workload.figure, reference: bound.figure))
                }
                if workload.operation == "put" && !workload.isSmall, let synced = byName["odirect-write-fsync"] {
                    ratios.append(Ratio(workload: workload.name, baseline: synced.name, flare: workload.figure, reference: synced.figure))
                }
            }
            // The same workload with the run's first setting of copies.
            if workload.baseName != workload.name, let first = workloadsByName[workload.baseName] {
                ratios.append(Ratio(workload: workload.name, baseline: "\(first.name) (replicas \(first.replicas ?? 1))",
                                    flare: workload.figure, reference: first.figure))
            }
            // The data node bench also has fio reading the very chunk files its GETs read.
            if workload.operation == "get" && !workload.isSmall, let files = byName["odirect-read-chunk-files"] {
                ratios.append(Ratio(workload: workload.name, baseline: files.name, flare: workload.figure, reference: files.figure))
            }
            // The minimal pipeline of Flare's shape moving the same curl object (relay and
            // stores, no HTTP between them, no checksums, one copy): how close Flare comes to
            // what that shape does on this machine. One copy only: a replicas-2 run writes twice.
            if copies == 1, let pipeline = byName["pipeline-\(workload.name)"] {
                ratios.append(Ratio(workload: workload.name, baseline: pipeline.name, flare: workload.figure, reference: pipeline.figure))
            }
            // nginx doing the job as the issue names it, then (curl object) with Flare's
            // guarantees: the upload fsynced, the file read from disk rather than the page cache.
            for variant in ["", "durable-", "cold-"] {
                if let nginx = byName["nginx-\(variant)\(workload.name)"] {
                    ratios.append(Ratio(workload: workload.name, baseline: nginx.name, flare: workload.figure, reference: nginx.figure))
                }
            }
        }
        return ratios
    }

    static func physicalBound(for workload: WorkloadResult, _ baselines: [String: BaselineResult]) -> BaselineResult? {
        if workload.isSmall { return baselines["tcp-roundtrip-\(workload.clients)"] }
        let disk = baselines[workload.operation == "put" ? "odirect-write" : "odirect-read"]
        let wire = baselines["tcp-loopback-\(min(workload.clients, 8))"] ?? baselines["tcp-loopback-1"]
        switch (disk, wire) {
        case let (disk?, wire?):
            return disk.figure <= wire.figure ? disk : wire
        case let (disk?, nil): return disk
        case let (nil, wire?): return wire
        default: return nil
        }
    }
}
