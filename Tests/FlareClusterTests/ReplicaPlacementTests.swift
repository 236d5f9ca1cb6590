import FlareCluster
import FlareCore
import FlareTestSupport
import Testing

/// Ranking, choice and replacement over seeded random clusters, each against the naive
/// solver in ClusterFixtures, plus the invariants spelt out so a failure names the one broken.
@Suite("ReplicaPlacement")
struct ReplicaPlacementTests {
    @Test("ranked is a permutation of the nodes, the naive solver's order, and ignores input order")
    func rankedMatchesNaive() throws {
        var generator = SeededGenerator(seed: 1)
        for round in 0..<40 {
            let nodes = ClusterFixtures.cluster(Int.random(in: 1...12, using: &generator), zonesMax: 4, &generator)
            let placement = try ReplicaPlacement(nodes: nodes)
            let reversed = try ReplicaPlacement(nodes: nodes.reversed())
            #expect(placement.nodes == reversed.nodes && placement.nodes.map(\.id) == nodes.map(\.id).sorted())
            for chunk in ClusterFixtures.chunks(200, seed: UInt64(round)) {
                let ranked = placement.ranked(chunk)
                #expect(Set(ranked) == Set(nodes) && ranked.count == nodes.count)
                #expect(ranked == ClusterFixtures.naiveRanking(chunk, nodes), "round \(round), chunk \(chunk)")
                #expect(ranked == reversed.ranked(chunk))
            }
        }
    }

    @Test("choose: N distinct nodes, never two in a zone while N zones are eligible, as the naive solver")
    func chooseMatchesNaive() throws {
        var generator = SeededGenerator(seed: 2)
        for round in 0..<60 {
            let nodes = ClusterFixtures.cluster(Int.random(in: 1...9, using: &generator), zonesMax: 5, &generator)
            let placement = try ReplicaPlacement(nodes: nodes)
            let zoneOf = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0.zone) })
            for chunk in ClusterFixtures.chunks(100, seed: UInt64(round)) {
                let replicas = Int.random(in: 1...4, using: &generator)
                let excluding = ClusterFixtures.someOf(nodes.map(\.id), oneIn: 4, &generator)
                let chosen = placement.choose(chunk, replicas: replicas, excluding: excluding)
                let eligible = nodes.filter { !excluding.contains($0.id) }
                let context = "round \(round), chunk \(chunk), N=\(replicas), excluding \(excluding.count) of \(nodes)"

                #expect(chosen.count == min(replicas, eligible.count), "\(context)")
                #expect(Set(chosen).count == chosen.count, "duplicate node: \(chosen), \(context)")
                #expect(excluding.isDisjoint(with: chosen), "\(context)")
                let zones = chosen.map { zoneOf[$0]! }
                if Set(eligible.map(\.zone)).count >= replicas {
                    #expect(Set(zones).count == zones.count, "two copies in one zone: \(zones), \(context)")
                }
                #expect(chosen == ClusterFixtures.naiveChoose(chunk, nodes, replicas: replicas, excluding: excluding),
                        "\(context)")
                #expect(chosen == placement.choose(chunk, replicas: replicas, excluding: excluding))
            }
        }
    }

    @Test("with fewer zones than copies, every eligible zone still holds a copy")
    func fewZonesSpreadAll() throws {
        var generator = SeededGenerator(seed: 3)
        let nodes = (0..<6).map { ClusterNode(id: ClusterFixtures.nodeID(&generator), zone: $0 < 5 ? "big" : "small") }
        let placement = try ReplicaPlacement(nodes: nodes)
        for chunk in ClusterFixtures.chunks(2_000, seed: 3) {
            let chosen = placement.choose(chunk, replicas: 3)
            #expect(chosen.contains(nodes[5].id), "the only node of zone small is left out: \(chosen)")
        }
    }

    @Test("replacement: the next node in rendezvous order that keeps the zone rule, as the naive solver")
    func replacementMatchesNaive() throws {
        var generator = SeededGenerator(seed: 4)
        var relaxed = 0, kept = 0
        for round in 0..<60 {
            let nodes = ClusterFixtures.cluster(Int.random(in: 2...10, using: &generator), zonesMax: 4, &generator)
            let placement = try ReplicaPlacement(nodes: nodes)
            let zoneOf = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0.zone) })
            for chunk in ClusterFixtures.chunks(100, seed: UInt64(round) + 1_000) {
                let excluding = ClusterFixtures.someOf(nodes.map(\.id), oneIn: 5, &generator)
                let chosen = placement.choose(chunk, replicas: Int.random(in: 1...4, using: &generator), excluding: excluding)
                let failed = ClusterFixtures.someOf(chosen, oneIn: 2, &generator)
                let keeping = chosen.filter { !failed.contains($0) }
                let tried = failed.union(ClusterFixtures.someOf(nodes.map(\.id), oneIn: 6, &generator))
                let next = placement.replacement(for: chunk, keeping: keeping, tried: tried, excluding: excluding)
                let context = "round \(round), chunk \(chunk), keeping \(keeping), tried \(tried), nodes \(nodes)"

                #expect(next == ClusterFixtures.naiveReplacement(chunk, nodes, keeping: keeping, tried: tried,
                                                                 excluding: excluding), "\(context)")
                let remaining = nodes.filter { !keeping.contains($0.id) && !tried.contains($0.id) && !excluding.contains($0.id) }
                guard let next else {
                    #expect(remaining.isEmpty, "no replacement although \(remaining) remain, \(context)")
                    continue
                }
                #expect(remaining.map(\.id).contains(next), "\(context)")
                let keptZones = Set(keeping.map { zoneOf[$0]! })
                if remaining.contains(where: { !keptZones.contains($0.zone) }) {
                    #expect(!keptZones.contains(zoneOf[next]!), "zone rule broken although it could hold: \(context)")
                    kept += 1
                } else {
                    relaxed += 1
                }
            }
        }
        // Both branches must have been exercised, or the test proves less than it says.
        #expect(kept > 500 && relaxed > 100, "kept \(kept), relaxed \(relaxed)")
    }

    @Test("replacement walks the rendezvous order: the first untried node of a new zone")
    func replacementByHand() throws {
        let nodes = ["a", "b", "c", "d", "e"].map { ClusterNode(id: String(repeating: $0, count: 32), zone: $0 == "e" ? "z1" : "z0") }
        let placement = try ReplicaPlacement(nodes: nodes)
        let chunk = ChunkID(high: 7, low: 11)
        let order = placement.ranked(chunk).map(\.id)
        let z0 = order.filter { $0 != nodes[4].id }
        // Keeping one z0 copy: the z1 node is the only way to keep the rule, wherever it ranks.
        #expect(placement.replacement(for: chunk, keeping: [z0[0]], tried: [z0[1]]) == nodes[4].id)
        // Keeping the z1 node: any z0 node keeps the rule; the first untried one in order wins.
        #expect(placement.replacement(for: chunk, keeping: [nodes[4].id], tried: [z0[0]]) == z0[1])
        // z1 taken and tried: the rule cannot hold, so the next in order.
        #expect(placement.replacement(for: chunk, keeping: [z0[0]], tried: [nodes[4].id]) == z0[1])
        #expect(placement.replacement(for: chunk, keeping: [], tried: Set(order)) == nil)
    }

    @Test("nextCopy: a healthy node of a new zone, else a healthy one, else the same among the unhealthy")
    func nextCopyByHand() {
        // Rendezvous order a, b, c, d: a and b in z0, c in z1 (suspect), d in z2.
        let candidates = [CopyCandidate(node: "a", zone: "z0"), CopyCandidate(node: "b", zone: "z0"),
                          CopyCandidate(node: "c", zone: "z1", healthy: false), CopyCandidate(node: "d", zone: "z2")]
        #expect(ReplicaPlacement.nextCopy(candidates, tried: [], zonesInUse: []) == 0)
        #expect(ReplicaPlacement.nextCopy(candidates, tried: [0], zonesInUse: ["z0"]) == 3, "the healthy node of a new zone, past b")
        #expect(ReplicaPlacement.nextCopy(candidates, tried: [0, 3], zonesInUse: ["z0", "z2"]) == 1,
                "a healthy node in a used zone before a suspect one in a new zone")
        #expect(ReplicaPlacement.nextCopy(candidates, tried: [0, 1, 3], zonesInUse: ["z0", "z2"]) == 2, "only the suspect node left")
        #expect(ReplicaPlacement.nextCopy(candidates, tried: [0, 1, 2, 3], zonesInUse: []) == nil)
        let unhealthy = [CopyCandidate(node: "a", zone: "z0", healthy: false), CopyCandidate(node: "b", zone: "z1", healthy: false)]
        #expect(ReplicaPlacement.nextCopy(unhealthy, tried: [], zonesInUse: ["z0"]) == 1, "among the unhealthy, a new zone first")
        #expect(ReplicaPlacement.nextCopy(unhealthy, tried: [1], zonesInUse: ["z0"]) == 0)
    }

    @Test("bad node lists are refused with the reason")
    func validation() {
        let good = ClusterNode(id: String(repeating: "a", count: 32))
        #expect(throws: ClusterConfigurationError.noNodes) { try ReplicaPlacement(nodes: []) }
        #expect(throws: ClusterConfigurationError.duplicateNode(good.id)) { try ReplicaPlacement(nodes: [good, good]) }
        #expect(throws: ClusterConfigurationError.invalidWeight(node: good.id, weight: 0)) {
            try ReplicaPlacement(nodes: [ClusterNode(id: good.id, weight: 0)])
        }
        #expect(throws: ClusterConfigurationError.invalidNodeID("")) { try ReplicaPlacement(nodes: [ClusterNode(id: "")]) }
        let long = String(repeating: "a", count: ClusterNode.idBytesMax + 1)
        #expect(throws: ClusterConfigurationError.invalidNodeID(long)) { try ReplicaPlacement(nodes: [ClusterNode(id: long)]) }
        let many = (0...ClusterLimits.nodesMax).map { ClusterNode(id: "n\($0)") }
        #expect(throws: ClusterConfigurationError.tooManyNodes(count: many.count, max: ClusterLimits.nodesMax)) {
            try ReplicaPlacement(nodes: many)
        }
    }
}
