@testable import FlareAdmin
import Foundation
import Testing

@Suite("Admin answers: decoding and errors")
struct DecodingTests {
    @Test("GET /admin/nodes decodes every field, a null used_bytes as unknown")
    func layout() async throws {
        let (actions, _) = Fixture.actions()
        let layout = try await actions.api.layout().value
        #expect(layout.version == 7 && layout.replicas == 2)
        #expect(layout.nodes.map(\.id) == [Fixture.idA, Fixture.idB, Fixture.idC])
        #expect(layout.nodes[0] == AdminNode(id: Fixture.idA, address: "127.0.0.1:9001", zone: "default", state: "active", weight: 100,
                                             capacityBytes: 107_374_182_400, usedBytes: 12345, health: "up", copies: 1234))
        #expect(layout.nodes[1].usedBytes == nil)
    }

    @Test("GET /admin/repair decodes with a pass and without one")
    func repair() async throws {
        let copying = try JSONDecoder().decode(RepairStatus.self, from: Data(Fixture.repairCopying.utf8))
        #expect(copying.pass?.etaSeconds == 200 && copying.pass?.chunksDone == 120 && copying.lostNodes == [Fixture.idB])
        let idle = try JSONDecoder().decode(RepairStatus.self, from: Data(Fixture.repairIdle.utf8))
        #expect(idle.pass == nil && idle.totals.copies == 0)
    }

    @Test("keys the api leaves out when it has no value (pass, rate, eta, used_bytes, copies) decode as unknown")
    func omittedKeys() throws {
        let repair = #"{"state":"scanning","replicas":2,"bandwidth_bytes_per_second":0,"lost_nodes":[],"pass":{"started_ns":5,"chunks_total":0,"chunks_done":0,"bytes_total":0,"bytes_done":0,"lost":0,"few":0,"misplaced":0,"bad":0},"totals":{"copies":0,"bytes":0,"failed":0}}"#
        let decoded = try JSONDecoder().decode(RepairStatus.self, from: Data(repair.utf8))
        #expect(decoded.pass?.rateBytesPerSecond == nil && decoded.pass?.etaSeconds == nil)
        #expect(decoded.renderSummary() == "repair: scanning, 0/0 chunks, 0 B of 0 B")
        let bare = #"{"state":"idle","replicas":2,"bandwidth_bytes_per_second":0,"lost_nodes":[],"totals":{"copies":0,"bytes":0,"failed":0}}"#
        #expect(try JSONDecoder().decode(RepairStatus.self, from: Data(bare.utf8)).pass == nil)
        let node = #"{"id":"\#(Fixture.idA)","address":"127.0.0.1:9001","zone":"a","state":"active","weight":100,"capacity_bytes":1,"health":"gone"}"#
        let decodedNode = try JSONDecoder().decode(AdminNode.self, from: Data(node.utf8))
        #expect(decodedNode.usedBytes == nil && decodedNode.copies == nil)
        #expect(decodedNode.renderLine().hasSuffix("health gone, weight 100, copies not counted"))
    }

    @Test("an error status becomes the api's message and status, also for a body that is not Flare's JSON")
    func errorStatus() async throws {
        let (actions, _) = Fixture.actions(["POST /admin/nodes?address=127.0.0.1:9009": Fixture.error(502, "no data node answers at 127.0.0.1:9009"),
                                            "GET /admin/repair": (503, "<html>\nService Unavailable</html>")])
        await #expect(throws: AdminError.api(status: 502, message: "no data node answers at 127.0.0.1:9009")) {
            try await actions.addNode(address: "127.0.0.1:9009", zone: nil)
        }
        await #expect(throws: AdminError.api(status: 503, message: "GET /admin/repair: <html> Service Unavailable</html>")) {
            try await actions.repairStatus()
        }
        let line = "\(AdminError.api(status: 409, message: "node 1a2b holds 3 copies"))"
        #expect(line == "node 1a2b holds 3 copies (HTTP 409)")
    }

    @Test("a 2xx body without a field the CLI needs names the field")
    func badAnswer() async throws {
        let (actions, _) = Fixture.actions(["GET /admin/nodes": (200, #"{"version":1,"replicas":2,"nodes":[{"id":"ab"}]}"#)])
        do {
            _ = try await actions.nodes()
            Issue.record("a node without an address decoded")
        } catch {
            guard case .badAnswer(let target, let why) = error else { Issue.record("got \(error)"); return }
            #expect(target == "GET /admin/nodes")
            #expect(why.contains("nodes[0]") && why.contains("address"), "\(why)")
        }
    }

    @Test("query values are percent-encoded, colons kept")
    func queryEscaping() async throws {
        #expect(AdminAPI.queryEscaped("127.0.0.1:9004") == "127.0.0.1:9004")
        #expect(AdminAPI.queryEscaped("[::1]:9004") == "%5B::1%5D:9004")
        #expect(AdminAPI.queryEscaped("zone a&b") == "zone%20a%26b")
        let (actions, transport) = Fixture.actions(["POST /admin/nodes?address=127.0.0.1:9004&zone=rack%201":
                                                        (201, Fixture.node(Fixture.idC, 9004, copies: 0))])
        let text = try await actions.addNode(address: "127.0.0.1:9004", zone: "rack 1")
        #expect(transport.requests == ["POST /admin/nodes?address=127.0.0.1:9004&zone=rack%201"])
        #expect(text.hasPrefix("added node \(Fixture.idC) at 127.0.0.1:9004"), "\(text)")
    }
}
