import FlareCore

/// The workloads of a run.
public struct BenchMatrix: Sendable {
    /// The single large object moved with curl.
    public var curlObjectBytes: Int
    public var workloads: [WorkloadSpec]

    public init(curlObjectBytes: Int, workloads: [WorkloadSpec]) {
        self.curlObjectBytes = curlObjectBytes
        self.workloads = workloads
    }

    /// One 1 GiB object; 16 × 64 MiB; 64 × 1 MiB; 64 × 4 KiB.
    public static let standard = BenchMatrix(curlObjectBytes: 1 << 30, workloads: [
        WorkloadSpec(clients: 16, objectBytes: 64 << 20, objectsPerClient: 1),
        WorkloadSpec(clients: 64, objectBytes: 1 << 20, objectsPerClient: 8),
        WorkloadSpec(clients: 64, objectBytes: 4 << 10, objectsPerClient: 2000, timeLimit: .seconds(5)),
    ])

    /// The same shapes, scaled to fit in ~25 s (CI).
    public static let quick = BenchMatrix(curlObjectBytes: 256 << 20, workloads: [
        WorkloadSpec(clients: 8, objectBytes: 16 << 20, objectsPerClient: 1),
        WorkloadSpec(clients: 32, objectBytes: 1 << 20, objectsPerClient: 4),
        WorkloadSpec(clients: 32, objectBytes: 4 << 10, objectsPerClient: 1000, timeLimit: .seconds(2)),
    ])

    /// Every size × concurrency, each moving about `budgetBytes` (small objects run for
    /// `duration` instead).
    public static func custom(sizes: [Int], concurrency: [Int], budgetBytes: Int, duration: Duration, curlObjectBytes: Int) -> BenchMatrix {
        var workloads: [WorkloadSpec] = []
        for size in sizes {
            for clients in concurrency {
                let perClient = max(1, min(100_000, budgetBytes / max(1, size * clients)))
                workloads.append(WorkloadSpec(clients: clients, objectBytes: size, objectsPerClient: perClient,
                                              timeLimit: size < 256 * 1024 ? duration : nil))
            }
        }
        return BenchMatrix(curlObjectBytes: curlObjectBytes, workloads: workloads)
    }

    /// Connection counts the small-object round-trip baseline must be measured for.
    var smallObjectConcurrency: Set<Int> {
        Set(workloads.filter { $0.objectBytes < 256 * 1024 }.map(\.clients))
    }
}
