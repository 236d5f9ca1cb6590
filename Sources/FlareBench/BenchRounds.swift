/// The figures of one round of an interleaved run: Flare's workloads and the baselines
/// measured right next to them, so a disk or neighbour that changes speed between rounds
/// moves both sides of each ratio together.
public struct BenchRound: Codable, Sendable, Equatable {
    public var round: Int
    public var workloads: [WorkloadResult]
    public var baselines: [BaselineResult]
    public var ratios: [Ratio]

    public init(round: Int, workloads: [WorkloadResult], baselines: [BaselineResult]) {
        self.round = round
        self.workloads = workloads
        self.baselines = baselines
        self.ratios = RatioRules.ratios(workloads: workloads, baselines: baselines)
    }
}

/// Folds rounds into the figures a report shows: the median of each workload and each
/// baseline (a single slow or fast round moves neither).
public enum RoundSummary {
    /// Per workload name, the round with the median figure; its errors are the sum over all
    /// rounds and it counts as verified only when every round was.
    public static func medianWorkloads(_ rounds: [BenchRound]) -> [WorkloadResult] {
        let names = orderedNames(rounds.flatMap { $0.workloads.map(\.name) })
        return names.compactMap { name in
            let results = rounds.flatMap { $0.workloads.filter { $0.name == name } }
            guard var median = medianElement(results, by: \.figure) else { return nil }
            median.errors = results.reduce(0) { $0 + $1.errors }
            median.verified = results.allSatisfy(\.verified)
            return median
        }
    }

    /// Per baseline name, the median figure.
    public static func medianBaselines(_ rounds: [BenchRound]) -> [BaselineResult] {
        let names = orderedNames(rounds.flatMap { $0.baselines.map(\.name) })
        return names.compactMap { name in
            medianElement(rounds.flatMap { $0.baselines.filter { $0.name == name } }, by: \.figure)
        }
    }

    /// `0.71×, 0.78×, 0.74×` for each workload and baseline pair, in round order.
    public static func pairedRatios(_ rounds: [BenchRound]) -> [(workload: String, baseline: String, values: [Double])] {
        var pairs: [(workload: String, baseline: String, values: [Double])] = []
        for round in rounds {
            for ratio in round.ratios {
                if let index = pairs.firstIndex(where: { $0.workload == ratio.workload && $0.baseline == ratio.baseline }) {
                    pairs[index].values.append(ratio.value)
                } else {
                    pairs.append((ratio.workload, ratio.baseline, [ratio.value]))
                }
            }
        }
        return pairs
    }

    /// The middle element by `key` (the lower middle of an even count).
    static func medianElement<T>(_ elements: [T], by key: (T) -> Double) -> T? {
        guard !elements.isEmpty else { return nil }
        let sorted = elements.sorted { key($0) < key($1) }
        return sorted[(sorted.count - 1) / 2]
    }

    private static func orderedNames(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}
