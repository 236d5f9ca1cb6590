import FlareAdmin
import Synchronization

/// Answers the admin endpoints from canned JSON, keyed by `METHOD target`, and records
/// every request, so the commands are tested without sockets.
final class FixtureTransport: AdminTransport {
    private let answers: [String: AdminAnswer]
    private let sent = Mutex<[String]>([])

    init(_ answers: [String: (status: Int, body: String)]) {
        self.answers = answers.mapValues { AdminAnswer(status: $0.status, body: Array($0.body.utf8)) }
    }

    /// `METHOD target` of every request, in order.
    var requests: [String] { sent.withLock { $0 } }

    func send(_ method: String, _ target: String) async throws(AdminError) -> AdminAnswer {
        let key = "\(method) \(target)"
        sent.withLock { $0.append(key) }
        // An unexpected request answers as Flare's api does a route it does not have.
        return answers[key] ?? AdminAnswer(status: 404, body: Array(#"{"error":"Not Found","message":"no route for \#(key)","requestId":"r0"}"#.utf8))
    }
}

enum Fixture {
    static let idA = "1a2b3c4d5e6f708192a3b4c5d6e7f801"
    static let idB = "1a2b3c4d5e6faaaa92a3b4c5d6e7f802"
    static let idC = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"

    static func node(_ id: String, _ port: Int, state: String = "active", health: String = "up", used: String = "12345",
                     copies: Int = 1234) -> String {
        #"{"id":"\#(id)","address":"127.0.0.1:\#(port)","zone":"default","state":"\#(state)","weight":100,"capacity_bytes":107374182400,"used_bytes":\#(used),"health":"\#(health)","copies":\#(copies)}"#
    }

    static let layout = #"{"version":7,"replicas":2,"nodes":["#
        + [node(idA, 9001), node(idB, 9002, state: "draining", health: "down", used: "null", copies: 3), node(idC, 9003, copies: 0)]
            .joined(separator: ",") + "]}\n"

    static let health = #"{"status":"ok","engine":"uring","dataNodes":3,"replicas":2,"nodes":[]}"# + "\n"

    static let repairIdle = #"{"state":"idle","replicas":2,"bandwidth_bytes_per_second":0,"lost_nodes":[],"pass":null,"totals":{"copies":0,"bytes":0,"failed":0}}"#

    /// A pass copying since 1000 s after the epoch, 120 of 1000 chunks, 200 s to go.
    static let repairCopying = #"{"state":"copying","replicas":2,"bandwidth_bytes_per_second":52428800,"lost_nodes":["\#(idB)"],"pass":{"started_ns":1000000000000,"chunks_total":1000,"chunks_done":120,"bytes_total":4294967296,"bytes_done":503316480,"rate_bytes_per_second":26214400,"eta_seconds":200,"lost":10,"few":990,"misplaced":0,"bad":1},"totals":{"copies":1234,"bytes":5153960755,"failed":2}}"#

    static func error(_ status: Int, _ message: String) -> (status: Int, body: String) {
        (status, #"{"error":"\#(status == 404 ? "Not Found" : "Conflict")","message":"\#(message)","requestId":"abc"}"#)
    }

    /// Actions over a fixture transport with the standard answers plus `extra`.
    static func actions(json: Bool = false, _ extra: [String: (status: Int, body: String)] = [:]) -> (AdminActions, FixtureTransport) {
        var answers: [String: (status: Int, body: String)] = [
            "GET /health": (200, health), "GET /admin/nodes": (200, layout), "GET /admin/repair": (200, repairCopying),
        ]
        answers.merge(extra) { $1 }
        let transport = FixtureTransport(answers)
        return (AdminActions(api: AdminAPI(transport: transport), apiText: "http://127.0.0.1:8000", json: json), transport)
    }
}
