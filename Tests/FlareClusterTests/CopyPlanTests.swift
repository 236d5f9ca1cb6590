import FlareCluster
import FlareCore
import FlareTestSupport
import Testing

/// The one decision repair and rebalance share: what a chunk's copies need, one copy at a
/// time; and that applying it until nothing is left ends where the layout wants the chunk,
/// having moved about the minimum.
@Suite("CopyPlan")
struct CopyPlanTests {
    static func plan(_ replicas: [String], wanted: [String], copies: Int = 2, lost: Set<String> = [], bad: Set<String> = [],
                     draining: Set<String> = [], unavailable: Set<String> = []) -> CopyPlan? {
        CopyPlan.plan(replicas: replicas, copies: copies, wanted: wanted, lost: lost, bad: bad, draining: draining, unavailable: unavailable)
    }

    @Test("a chunk where the layout wants it, with all its copies good, needs nothing")
    func settled() {
        #expect(Self.plan(["a", "b"], wanted: ["b", "a"]) == nil)
    }

    @Test("a lost copy is replaced from the good ones, before anything else, target left to the repair")
    func lostFirst() {
        let plan = Self.plan(["a", "b"], wanted: ["c", "d"], lost: ["b"])
        #expect(plan == CopyPlan(reason: .lost, replacing: "b", sources: ["a"], target: nil))
    }

    @Test("a bad copy is replaced, named as bad; with every copy bad or lost there is no source")
    func badCopies() {
        #expect(Self.plan(["a", "b"], wanted: ["a", "b"], bad: ["a"]) == CopyPlan(reason: .bad, replacing: "a", sources: ["b"], target: nil))
        #expect(Self.plan(["a", "b"], wanted: ["a", "b"], lost: ["b"], bad: ["a"]) == nil)
        #expect(CopyPlan.hasNoSource(replicas: ["a", "b"], lost: ["b"], bad: ["a"]))
        #expect(!CopyPlan.hasNoSource(replicas: ["a", "b"], lost: ["b"], bad: []))
    }

    @Test("fewer copies than configured: one more, from all of them")
    func few() {
        #expect(Self.plan(["a"], wanted: ["a", "b"]) == CopyPlan(reason: .few, replacing: nil, sources: ["a"], target: nil))
    }

    @Test("a misplaced copy moves to the first wanted node that lacks it; a draining node's copy moves first")
    func misplaced() {
        #expect(Self.plan(["a", "b"], wanted: ["a", "c"]) == CopyPlan(reason: .misplaced, replacing: "b", sources: ["a", "b"], target: "c"))
        #expect(Self.plan(["x", "y", "z"], wanted: ["a", "y", "b"], copies: 3, draining: ["z"])
                == CopyPlan(reason: .misplaced, replacing: "z", sources: ["x", "y", "z"], target: "a"))
    }

    @Test("nothing moves onto a node that is not up: a move waits, or takes the next wanted node that is up; a drain does not wait")
    func waits() {
        #expect(Self.plan(["a", "b"], wanted: ["a", "c"], unavailable: ["c"]) == nil)
        #expect(Self.plan(["a", "b", "x"], wanted: ["a", "c", "d"], copies: 3, unavailable: ["c"])
                == CopyPlan(reason: .misplaced, replacing: "x", sources: ["a", "b", "x"], target: "d"))
        // Draining d while the wanted node c is down: the copy leaves for the repair's choice.
        #expect(Self.plan(["a", "d"], wanted: ["a", "c"], draining: ["d"], unavailable: ["c"])
                == CopyPlan(reason: .misplaced, replacing: "d", sources: ["a", "d"], target: nil))
        // Three copies wanted, two active nodes: the draining node's copy has nowhere to go.
        #expect(Self.plan(["a", "b", "d"], wanted: ["a", "b"], copies: 3, draining: ["d"]) == nil)
    }

    @Test("3 → 4 equal nodes: applying plans until none is left puts every chunk on its top 2 and moves about a quarter of the copies")
    func rebalanceConverges() throws {
        var generator = SeededGenerator(seed: 77)
        let three = (0..<3).map { _ in ClusterNode(id: ClusterFixtures.nodeID(&generator), weight: 100) }
        let fourth = ClusterNode(id: ClusterFixtures.nodeID(&generator), weight: 100)
        let before = try ReplicaPlacement(nodes: three), after = try ReplicaPlacement(nodes: three + [fourth])
        var moved = 0, copies = 0
        for chunk in ClusterFixtures.chunks(4000, seed: 78) {
            var replicas = before.choose(chunk, replicas: 2)
            copies += replicas.count
            let wanted = after.choose(chunk, replicas: 2)
            var steps = 0
            while let plan = Self.plan(replicas, wanted: wanted) {
                #expect(plan.reason == .misplaced && plan.target == fourth.id, "\(plan)")
                replicas[replicas.firstIndex(of: plan.replacing!)!] = plan.target!
                moved += 1
                steps += 1
                try #require(steps <= 2, "no end to moving \(chunk)")
            }
            #expect(Set(replicas) == Set(wanted))
        }
        let fraction = Double(moved) / Double(copies)
        // The ideal: the new node's share, 1/4 of all copies.
        #expect((0.22...0.28).contains(fraction), "moved \(moved) of \(copies) copies (\(fraction))")
    }

    @Test("draining one of four: only its copies move, and every chunk ends on the other three's top 2")
    func drainConverges() throws {
        var generator = SeededGenerator(seed: 79)
        let four = (0..<4).map { _ in ClusterNode(id: ClusterFixtures.nodeID(&generator), weight: 100) }
        let drained = four[1].id
        let before = try ReplicaPlacement(nodes: four), after = try ReplicaPlacement(nodes: four.filter { $0.id != drained })
        var moved = 0, held = 0
        for chunk in ClusterFixtures.chunks(2000, seed: 80) {
            var replicas = before.choose(chunk, replicas: 2)
            if replicas.contains(drained) { held += 1 }
            let wanted = after.choose(chunk, replicas: 2)
            while let plan = Self.plan(replicas, wanted: wanted, draining: [drained]) {
                #expect(plan.replacing == drained, "a copy not on the draining node moved: \(plan)")
                replicas[replicas.firstIndex(of: plan.replacing!)!] = plan.target!
                moved += 1
            }
            #expect(!replicas.contains(drained) && Set(replicas) == Set(wanted))
        }
        #expect(moved == held)
    }
}
