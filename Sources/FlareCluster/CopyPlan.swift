/// Why a chunk needs a copy made: the one decision repair and rebalance share.
public enum CopyReason: String, Sendable, CaseIterable {
    /// A copy is on a lost node (down long enough, gone, removed): replace it.
    case lost
    /// A copy was found bad (missing, wrong bytes): replace it.
    case bad
    /// Fewer copies than configured (written before `--replicas` was raised): add one.
    case few
    /// The copies are not where the layout wants them (a node added, draining, reweighed):
    /// move one.
    case misplaced
}

/// One copy to make for a chunk: from `sources` (good copies), in place of `replacing` (or
/// one more, with none), onto `target` when the plan fixes it (a move goes where the layout
/// wants it), else onto whatever node the repair finds next in rendezvous order.
public struct CopyPlan: Sendable, Equatable {
    public var reason: CopyReason
    public var replacing: String?
    public var sources: [String]
    public var target: String?

    public init(reason: CopyReason, replacing: String?, sources: [String], target: String?) {
        self.reason = reason
        self.replacing = replacing
        self.sources = sources
        self.target = target
    }
}

extension CopyPlan {
    /// What `replicas` (the chunk's copies, as the manifest names them) need, or `nil` for
    /// nothing (or nothing possible now). One copy per call: the next pass sees the result.
    ///
    /// - Parameters:
    ///   - copies: how many copies every chunk should have (`--replicas`).
    ///   - wanted: where the layout wants the chunk (``ReplicaPlacement/choose(_:replicas:excluding:)``
    ///     over the active nodes, whatever their health).
    ///   - lost: nodes whose copies are lost; `bad`: nodes holding a bad copy of this chunk.
    ///   - draining: nodes being drained (their copies move first).
    ///   - unavailable: nodes not up now; nothing is moved onto them (a move waits for them,
    ///     but a drain does not: its copy goes to the repair's next choice).
    /// - Returns: `.lost`/`.bad` first, then `.few`, then `.misplaced`; `nil` also when every
    ///   copy is lost or bad (no source: the caller counts it).
    public static func plan(replicas: [String], copies: Int, wanted: [String], lost: Set<String>, bad: Set<String>,
                            draining: Set<String>, unavailable: Set<String>) -> CopyPlan? {
        let broken = replicas.filter { lost.contains($0) || bad.contains($0) }
        let good = replicas.filter { !broken.contains($0) }
        if let first = broken.first {
            guard !good.isEmpty else { return nil }
            return CopyPlan(reason: bad.contains(first) ? .bad : .lost, replacing: first, sources: good, target: nil)
        }
        if replicas.count < copies { return CopyPlan(reason: .few, replacing: nil, sources: replicas, target: nil) }
        let missing = wanted.filter { !replicas.contains($0) }
        let extra = replicas.filter { !wanted.contains($0) }
        guard !extra.isEmpty else { return nil }
        let from = extra.first { draining.contains($0) } ?? extra.last!
        // The first wanted node that lacks a copy and is up; a move waits for a wanted node
        // that is down (it keeps its place), except off a draining node: a drain must end even
        // while a wanted node is down, so its copy goes to the next up node in rendezvous
        // order instead (the repair's choice) and moves again once the wanted one is back.
        if let target = missing.first(where: { !unavailable.contains($0) }) {
            return CopyPlan(reason: .misplaced, replacing: from, sources: replicas, target: target)
        }
        guard draining.contains(from), !missing.isEmpty else { return nil }
        return CopyPlan(reason: .misplaced, replacing: from, sources: replicas, target: nil)
    }

    /// Whether a chunk has no good copy left to repair from.
    public static func hasNoSource(replicas: [String], lost: Set<String>, bad: Set<String>) -> Bool {
        !replicas.isEmpty && replicas.allSatisfy { lost.contains($0) || bad.contains($0) }
    }
}
