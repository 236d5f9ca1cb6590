import FlareCluster
import FlareTestSupport
import Testing

@Suite("NodeHealthTable")
struct NodeHealthTableTests {
    typealias Table = NodeHealthTable<ManualClock.Instant>
    static let ids = ["a", "b", "c"].map { String(repeating: $0, count: 32) }
    static let refused = NodeFailure(.connection, "connection refused")

    @Test("outcomes update one node; unknown ids are ignored and never added")
    func recordAndIgnoreUnknown() throws {
        let clock = ManualClock()
        var table = try Table(nodeIDs: Self.ids, at: clock.now)
        #expect(table.unavailable.isEmpty)
        #expect(table.record(.dataPathFailed(Self.refused), node: Self.ids[1], at: clock.now)?.to == .suspect)
        #expect(table.record(.dataPathFailed(Self.refused), node: "stranger", at: clock.now) == nil)
        #expect(table.state(of: "stranger") == nil && table.snapshot(at: clock.now).count == 3)
        #expect(table.unavailable == [Self.ids[1]])
        #expect(table.states == [Self.ids[0]: .up, Self.ids[1]: .suspect, Self.ids[2]: .up])
    }

    @Test("a new node list keeps known states, starts new nodes up and forgets removed ones")
    func setNodes() throws {
        let clock = ManualClock()
        var table = try Table(nodeIDs: Self.ids, at: clock.now)
        table.record(.probeFailed(Self.refused), node: Self.ids[0], at: clock.now)
        table.record(.probeFailed(Self.refused), node: Self.ids[2], at: clock.now)
        clock.advance(by: .seconds(1))
        let added = String(repeating: "d", count: 32)
        try table.setNodes([Self.ids[0], Self.ids[1], added], at: clock.now)
        #expect(table.states == [Self.ids[0]: .suspect, Self.ids[1]: .up, added: .up])
        #expect(throws: ClusterConfigurationError.tooManyNodes(count: ClusterLimits.nodesMax + 1, max: ClusterLimits.nodesMax)) {
            try table.setNodes((0...ClusterLimits.nodesMax).map { "n\($0)" }, at: clock.now)
        }
        #expect(table.states.count == 3, "a refused list leaves the table as it was")
    }

    @Test("the snapshot lists every node by id with state, since, age and last failure")
    func snapshot() throws {
        let clock = ManualClock()
        var table = try Table(nodeIDs: Self.ids.reversed(), at: clock.now, policy: NodeHealthPolicy(downAfterSeconds: 5))
        clock.advance(by: .seconds(2))
        let timeout = NodeFailure(.timeout, "no answer in 2 s")
        table.record(.dataPathFailed(timeout), node: Self.ids[2], at: clock.now)
        clock.advance(by: .milliseconds(1_500))
        let rows = table.snapshot(at: clock.now)
        #expect(rows.map(\.id) == Self.ids)
        #expect(rows[0].state == .up && rows[0].stateAgeSeconds == 3.5 && rows[0].lastFailure == nil)
        #expect(rows[2].state == .suspect && rows[2].since == ManualClock.Instant(offset: .seconds(2)))
        #expect(rows[2].stateAgeSeconds == 1.5 && rows[2].lastFailure == timeout && rows[2].dataPathFailureCount == 1)
    }
}
