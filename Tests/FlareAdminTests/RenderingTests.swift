@testable import FlareAdmin
import Foundation
import Testing

@Suite("Admin output: tables, summaries, --json")
struct RenderingTests {
    @Test("flare nodes: a heading, then aligned columns with 12-character ids and sizes in binary units")
    func nodesTable() async throws {
        let (actions, _) = Fixture.actions()
        let lines = try await actions.nodes().split(separator: "\n").map(String.init)
        #expect(lines == [
            "layout version 7: 3 nodes, 2 replicas per chunk",
            "ID            ADDRESS         ZONE     STATE     HEALTH  WEIGHT  COPIES      USED  CAPACITY  USE",
            "1a2b3c4d5e6f  127.0.0.1:9001  default  active    up         100    1234  12.1 KiB   100 GiB  <1%",
            "1a2b3c4d5e6f  127.0.0.1:9002  default  draining  down       100       3         -   100 GiB    -",
            "9f8e7d6c5b4a  127.0.0.1:9003  default  active    up         100       0  12.1 KiB   100 GiB  <1%",
        ])
    }

    @Test("--json prints the api's JSON as it came, less the trailing newline; status --json holds all three answers")
    func json() async throws {
        let (actions, _) = Fixture.actions(json: true)
        #expect(try await actions.nodes() == Fixture.layout.trimmingCharacters(in: .newlines))
        let status = try await actions.status()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["health", "layout", "repair"])
        #expect((object["layout"] as? [String: Any])?["version"] as? Int == 7)
        #expect((object["repair"] as? [String: Any])?["state"] as? String == "copying")
    }

    @Test("flare status: health, node counts by state and health, space, the nodes to look at, the repair in a line")
    func status() async throws {
        let (actions, _) = Fixture.actions()
        #expect(try await actions.status() == """
            api http://127.0.0.1:8000: ok, engine uring, 2 replicas per chunk
            nodes: 3 (2 active, 1 draining; 2 up, 1 down), layout version 7
            space: 24.1 KiB used of 300 GiB (1 node not reporting)
              1a2b3c4d5e6f at 127.0.0.1:9002: draining, down
            repair: copying, 1 lost node, 120/1000 chunks, 480 MiB of 4 GiB (11%), 25 MiB/s, ETA 3m20s
            """)
    }

    @Test("states and healths this CLI does not know are shown as the api names them, after the known ones")
    func unknownStates() async throws {
        let layout = #"{"version":2,"replicas":1,"nodes":["# + Fixture.node(Fixture.idA, 9001, state: "joining", health: "up") + ","
            + Fixture.node(Fixture.idC, 9003) + "]}"
        let (actions, _) = Fixture.actions(["GET /admin/nodes": (200, layout), "GET /admin/repair": (200, Fixture.repairIdle)])
        let lines = try await actions.status().split(separator: "\n")
        #expect(lines[1] == "nodes: 2 (1 active, 1 joining; 2 up), layout version 2")
        #expect(lines[3] == "  1a2b3c4d5e6f at 127.0.0.1:9001: joining, up")
        #expect(lines.last == "repair: idle")
    }

    @Test("an empty layout is a heading without a table")
    func emptyLayout() async throws {
        let (actions, _) = Fixture.actions(["GET /admin/nodes": (200, #"{"version":0,"replicas":2,"nodes":[]}"#)])
        #expect(try await actions.nodes() == "layout version 0: 0 nodes, 2 replicas per chunk")
    }

    @Test("flare repair status: a pass in progress, and none yet")
    func repairReport() throws {
        let copying = try JSONDecoder().decode(RepairStatus.self, from: Data(Fixture.repairCopying.utf8))
        #expect(copying.renderReport(nowNanoseconds: 1_130_000_000_000) == """
            repair: copying (2 replicas per chunk, bandwidth 50 MiB/s)
            lost nodes: 1a2b3c4d5e6f
            pass, started 2m10s ago: 120/1000 chunks, 480 MiB of 4 GiB (11%), 25 MiB/s, ETA 3m20s
              chunks found: 10 lost, 990 few, 0 misplaced, 1 bad
            since the api started: 1234 copies made (4.8 GiB), 2 failed
            """)
        var finished = copying
        finished.state = "idle"
        #expect(finished.renderReport(nowNanoseconds: 1_130_000_000_000).split(separator: "\n")[2]
                == "last pass, started 2m10s ago: 120/1000 chunks, 480 MiB of 4 GiB (11%)")
        let idle = try JSONDecoder().decode(RepairStatus.self, from: Data(Fixture.repairIdle.utf8))
        #expect(idle.renderReport(nowNanoseconds: 0) == """
            repair: idle (2 replicas per chunk, bandwidth unlimited)
            no pass has run yet
            since the api started: 0 copies made (0 B), 0 failed
            """)
        #expect(idle.renderSummary() == "repair: idle")
    }

    @Test("durations: two units at most, the smaller padded", arguments: [
        (0.0, "0s"), (45.4, "45s"), (200, "3m20s"), (3605, "1h00m"), (7500, "2h05m"), (273_600, "3d04h"), (-3, "0s"), (.infinity, "?"),
    ])
    func durations(seconds: Double, text: String) {
        #expect(CompactDuration.format(seconds: seconds) == text)
    }

    @Test("text tables: left and right alignment, no trailing spaces")
    func textTable() {
        var table = TextTable([.init("NAME"), .init("N", .right), .init("NOTE")])
        table.append(["a", "1000", ""])
        table.append(["longer", "2", "x"])
        #expect(table.render() == "NAME       N  NOTE\na       1000\nlonger     2  x")
    }
}
