import FlareAdmin
import Testing

@Suite("Node id prefixes")
struct NodeIDPrefixTests {
    @Test("1…32 hex digits parse, lowercased; anything else does not")
    func parsing() {
        #expect(NodeIDPrefix("1A2b")?.text == "1a2b")
        #expect(NodeIDPrefix(Fixture.idA)?.isWholeID == true)
        #expect(NodeIDPrefix("1a2b")?.isWholeID == false)
        for bad in ["", "xyz", "1a2b-", Fixture.idA + "0", " 1a2b"] {
            #expect(NodeIDPrefix(bad) == nil, "'\(bad)' parsed")
        }
    }

    @Test("a unique prefix is resolved through GET /admin/nodes and the action goes to the whole id")
    func uniquePrefix() async throws {
        let (actions, transport) = Fixture.actions(["POST /admin/nodes/\(Fixture.idC)/drain": (200, Fixture.node(Fixture.idC, 9003, state: "draining"))])
        let text = try await actions.drain(NodeIDPrefix("9F8")!)
        #expect(transport.requests == ["GET /admin/nodes", "POST /admin/nodes/\(Fixture.idC)/drain"])
        #expect(text == "draining node \(Fixture.idC) at 127.0.0.1:9003 (zone default): draining, health up, weight 100, 1234 copies")
    }

    @Test("a whole id is sent as it is: the api says whether it knows it")
    func wholeID() async throws {
        let unknown = "00000000000000000000000000000000"
        let (actions, transport) = Fixture.actions(["POST /admin/nodes/\(unknown)/remove": Fixture.error(404, "no node \(unknown) in the layout")])
        await #expect(throws: AdminError.api(status: 404, message: "no node \(unknown) in the layout")) {
            try await actions.remove(NodeIDPrefix(unknown)!, force: false)
        }
        #expect(transport.requests == ["POST /admin/nodes/\(unknown)/remove"])
    }

    @Test("an ambiguous prefix names the candidates; an unknown one says so; neither sends the action")
    func ambiguousAndUnknown() async throws {
        let (actions, transport) = Fixture.actions()
        do {
            _ = try await actions.activate(NodeIDPrefix("1a2b3c4d5e6f")!)
            Issue.record("an ambiguous prefix resolved")
        } catch {
            #expect(error == .ambiguousNode(prefix: "1a2b3c4d5e6f", matches: ["\(Fixture.idA) at 127.0.0.1:9001", "\(Fixture.idB) at 127.0.0.1:9002"]))
            #expect("\(error)".contains("give more of the id"))
        }
        await #expect(throws: AdminError.unknownNode(prefix: "77", known: 3)) { try await actions.setWeight(NodeIDPrefix("77")!, .value(5)) }
        #expect(transport.requests == ["GET /admin/nodes", "GET /admin/nodes"])
    }

    @Test("remove --force and weight (a number or capacity) put their values in the query")
    func queries() async throws {
        let (actions, transport) = Fixture.actions([
            "POST /admin/nodes/\(Fixture.idA)/remove?force=true": (200, Fixture.node(Fixture.idA, 9001, state: "removed")),
            "POST /admin/nodes/\(Fixture.idA)/weight?value=50": (200, Fixture.node(Fixture.idA, 9001)),
            "POST /admin/nodes/\(Fixture.idA)/weight?value=capacity": (200, Fixture.node(Fixture.idA, 9001)),
        ])
        _ = try await actions.remove(NodeIDPrefix("1a2b3c4d5e6f7")!, force: true)
        _ = try await actions.setWeight(NodeIDPrefix("1a2b3c4d5e6f7")!, NodeWeight("50")!)
        _ = try await actions.setWeight(NodeIDPrefix("1a2b3c4d5e6f7")!, NodeWeight("capacity")!)
        #expect(transport.requests.filter { $0.hasPrefix("POST") } == [
            "POST /admin/nodes/\(Fixture.idA)/remove?force=true", "POST /admin/nodes/\(Fixture.idA)/weight?value=50",
            "POST /admin/nodes/\(Fixture.idA)/weight?value=capacity",
        ])
        #expect(NodeWeight("-1") == nil && NodeWeight("0") == nil && NodeWeight("1.5") == nil && NodeWeight("Capacity") == nil)
    }
}
