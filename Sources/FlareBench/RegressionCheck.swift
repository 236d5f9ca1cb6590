/// Compares a run's ratios with a committed baseline run. Only ratios are compared —
/// absolute figures move ±30% between runs on shared machines; ratios much less.
public struct RegressionCheck: Sendable {
    /// A ratio below `threshold ×` its baseline ratio fails.
    public var threshold: Double

    public init(threshold: Double) {
        self.threshold = threshold
    }

    /// One ratio that fell too far.
    public struct Regression: Sendable, Equatable, CustomStringConvertible {
        public var workload: String
        public var baseline: String
        public var expected: Double
        public var measured: Double
        public var description: String {
            "\(workload) vs \(baseline): ratio \(format(measured)) < \(format(expected)) (baseline ratio)"
        }
    }

    /// Whether a ratio takes part in the check: only ratios to what the machine itself does
    /// (wire, disk, round trips, and the minimal pipeline of Flare's shape, `pipeline-*`,
    /// which moves the same bytes the same way in the same run: a fall against it is Flare's).
    /// Ratios to nginx are reported but not checked: nginx's own
    /// figures swing 3× between runs here (its PUT rides the page cache and writeback), so
    /// they would fail CI at random without saying anything about Flare. A large PUT is
    /// checked against fio's durable write (`odirect-write-fsync`), the job it does, not the
    /// plain O_DIRECT write: that one ran at twice its usual speed in one clean-clone run
    /// and sank every attempt while Flare's own figures were as usual.
    public static func isChecked(_ ratio: Ratio) -> Bool {
        !ratio.baseline.hasPrefix("nginx-") && !(ratio.workload.hasPrefix("put-") && ratio.baseline == "odirect-write")
    }

    /// The regressions of `current` against `committed`; ratios missing on either side are skipped.
    public func regressions(current: [Ratio], committed: [Ratio]) -> [Regression] {
        let reference = Dictionary(committed.map { ("\($0.workload)|\($0.baseline)", $0.value) }, uniquingKeysWith: { a, _ in a })
        return current.filter(Self.isChecked).compactMap { ratio in
            guard let expected = reference["\(ratio.workload)|\(ratio.baseline)"], expected > 0 else { return nil }
            return ratio.value < expected * threshold
                ? Regression(workload: ratio.workload, baseline: ratio.baseline, expected: expected, measured: ratio.value)
                : nil
        }
    }

    /// With several attempts, a workload fails only when it regressed in at least
    /// `failuresNeeded` of them (noise makes single failures meaningless in CI).
    public static func persistent(_ attempts: [[Regression]], failuresNeeded: Int) -> [Regression] {
        var counts: [String: (Int, Regression)] = [:]
        for attempt in attempts {
            for regression in attempt {
                let key = "\(regression.workload)|\(regression.baseline)"
                counts[key] = ((counts[key]?.0 ?? 0) + 1, regression)
            }
        }
        return counts.values.filter { $0.0 >= failuresNeeded }.map(\.1).sorted { $0.workload < $1.workload }
    }
}

func format(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    return "\(rounded)"
}
