import FlareCore
import Foundation
import Testing

@Suite("NodeID and NodeZone")
struct NodeIDTests {
    @Test("an id prints as 32 lowercase hex and parses back; random ids differ")
    func roundTrip() throws {
        let id = NodeID(high: 0x0123_4567_89ab_cdef, low: 0xf)
        #expect(id.description == "0123456789abcdef000000000000000f")
        #expect(NodeID(id.description) == id)
        for _ in 0..<100 {
            let random = NodeID.random()
            #expect(random.description.utf8.count == 32 && NodeID(random.description) == random)
        }
        #expect(NodeID.random() != NodeID.random())
    }

    @Test("anything but exactly 32 lowercase hex is refused", arguments: [
        "", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0", "0123456789ABCDEF0123456789abcdef",
        "0123456789abcdeg0123456789abcdef", " 123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcde\n",
        "+123456789abcdef0123456789abcdef", "0x23456789abcdef0123456789abcdef", "０123456789abcdef0123456789abcde",
    ])
    func refused(text: String) {
        #expect(NodeID(text) == nil)
    }

    @Test("Codable as its string; a malformed string fails to decode")
    func codable() throws {
        let id = NodeID.random()
        let data = try JSONEncoder().encode(["id": id])
        #expect(String(decoding: data, as: UTF8.self) == "{\"id\":\"\(id)\"}")
        #expect(try JSONDecoder().decode([String: NodeID].self, from: data)["id"] == id)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([String: NodeID].self, from: Data("{\"id\":\"ABC\"}".utf8)) }
    }

    @Test("zone names: 1-64 of A-Z a-z 0-9 . _ -")
    func zones() {
        for valid in ["default", "a", "eu-west-1", "rack_7.room-B", String(repeating: "z", count: 64), "..."] {
            #expect(NodeZone.isValid(valid), "\(valid)")
        }
        for invalid in ["", "rack 1", "a/b", "zöne", "a\"b", "a\nb", String(repeating: "z", count: 65), "a,b", "a=b"] {
            #expect(!NodeZone.isValid(invalid), "\(invalid.debugDescription)")
        }
    }
}
