@testable import FlareAPINode
import FlareCore
import FlareHTTP
import FlareTestSupport
import Testing

/// The actions as short strings, so a whole step reads as one expectation.
func describe(_ actions: [PutWindow.Action]) -> [String] {
    actions.map { action in
        switch action {
        case .fill: return "fill"
        case .send(let send): return "send \(send.index) \(send.node)"
        case .release(let index): return "release \(index)"
        case .commit(let records, let strays):
            return "commit " + records.map { "\($0.index)@\($0.replicas.joined(separator: "+"))" }.joined(separator: ",")
                + (strays.isEmpty ? "" : " strays " + strays.map(\.node).joined(separator: ","))
        case .abort(let error, let copies):
            return "abort \(error.status) copies " + copies.map(\.node).joined(separator: ",")
        }
    }
}

@Suite("PUT window: pure bookkeeping of a pipelined upload")
struct PutWindowTests {
    static let ids = (0..<64).map { _ in ChunkID.random() }

    /// Chunk `index` filled; candidates as `node` (zone `default`) or `node/zone`.
    static func filled(_ index: Int, _ candidates: [String] = ["a", "b", "c"], last: Bool = false) -> PutWindow.Event {
        let parsed = candidates.map { text in
            let parts = text.split(separator: "/").map(String.init)
            return PutWindow.Candidate(node: parts[0], zone: parts.count > 1 ? parts[1] : "default")
        }
        return .filled(index: index, id: ids[index], length: 10, crc32c: UInt32(index), candidates: parsed, last: last)
    }

    @Test("chunks are sent while the next is filled; the window bounds the chunks held")
    func pipelines() {
        var window = PutWindow(windowMax: 2)
        #expect(describe(window.start()) == ["fill"])
        #expect(describe(window.handle(Self.filled(0))) == ["send 0 a", "fill"])
        #expect(describe(window.handle(Self.filled(1, ["b", "a"]))) == ["send 1 b"])  // two held: no fill
        #expect(window.held == 2)
        #expect(describe(window.handle(.stored(index: 0, node: "a"))) == ["release 0", "fill"])
        #expect(describe(window.handle(Self.filled(2, last: true))) == ["send 2 a"])
        #expect(describe(window.handle(.stored(index: 2, node: "a"))) == ["release 2"])
        #expect(describe(window.handle(.stored(index: 1, node: "b"))) == ["release 1", "commit 0@a,1@b,2@a"])
        #expect(window.isFinished)
    }

    @Test("an empty body commits an empty manifest; a body ending on a chunk boundary commits after the last store")
    func bodyEnds() {
        var empty = PutWindow(windowMax: 4)
        _ = empty.start()
        #expect(describe(empty.handle(.bodyEnded)) == ["commit "])
        var boundary = PutWindow(windowMax: 4)
        _ = boundary.start()
        #expect(describe(boundary.handle(Self.filled(0))) == ["send 0 a", "fill"])
        #expect(describe(boundary.handle(.bodyEnded)) == [])
        #expect(describe(boundary.handle(.stored(index: 0, node: "a"))) == ["release 0", "commit 0@a"])
    }

    @Test("a node that fails a chunk is replaced by the next candidate; the failed attempt is a stray")
    func failsOver() {
        var window = PutWindow(windowMax: 4)
        _ = window.start()
        _ = window.handle(Self.filled(0, last: true))
        #expect(describe(window.handle(.sendFailed(index: 0, .failed(node: "a", reason: "timed out")))) == ["send 0 b"])
        #expect(describe(window.handle(.sendFailed(index: 0, .failed(node: "b", reason: "status 507")))) == ["send 0 c"])
        #expect(describe(window.handle(.stored(index: 0, node: "c"))) == ["release 0", "commit 0@c strays a,b"])
    }

    @Test("a fill that waited for a buffer while the upload failed is abandoned: the abort follows once nothing is in flight")
    func fillAbandoned() {
        var window = PutWindow(windowMax: 4)
        _ = window.start()
        #expect(describe(window.handle(Self.filled(0, ["a"]))) == ["send 0 a", "fill"])
        #expect(!window.hasFailed)
        // The driver found no free buffer for the fill and heard from the send instead.
        #expect(describe(window.handle(.sendFailed(index: 0, .failed(node: "a", reason: "refused connection")))) == ["release 0"])
        #expect(window.hasFailed && !window.isFinished)
        #expect(describe(window.handle(.fillAbandoned)) == ["abort 503 copies a"])
        #expect(window.isFinished)
    }

    @Test("when every candidate fails a chunk: no more fills, and the abort waits for the sends in flight")
    func exhaustsCandidates() {
        var window = PutWindow(windowMax: 4)
        _ = window.start()
        _ = window.handle(Self.filled(0, ["a", "b"]))
        _ = window.handle(Self.filled(1, ["b", "a"]))
        _ = window.handle(.sendFailed(index: 0, .failed(node: "a", reason: "refused connection")))
        #expect(describe(window.handle(.sendFailed(index: 0, .failed(node: "b", reason: "status 500")))) == ["release 0"])
        // The fill asked for before the failure still reports; its chunk is not sent.
        #expect(describe(window.handle(Self.filled(2))) == ["release 2"])
        #expect(describe(window.handle(.stored(index: 1, node: "b"))) == ["release 1", "abort 503 copies a,b,b"])
    }

    @Test("a refusal (the request itself is wrong) aborts without trying another node")
    func refusal() {
        var window = PutWindow(windowMax: 4)
        _ = window.start()
        _ = window.handle(Self.filled(0, last: true))
        #expect(describe(window.handle(.sendFailed(index: 0, .refused(node: "a", status: 413)))) == ["release 0", "abort 503 copies a"])
    }

    @Test("a body that fails ends the upload once the sends in flight are back")
    func bodyFails() {
        var window = PutWindow(windowMax: 4)
        _ = window.start()
        _ = window.handle(Self.filled(0))
        #expect(describe(window.handle(.fillFailed(.body(.connectionClosed("after 10 bytes"))))) == [])
        #expect(describe(window.handle(.stored(index: 0, node: "a"))) == ["release 0", "abort 400 copies a"])
    }

    @Test("two replicas: both sends go out at once from the chunk's one buffer; the chunk is done when both are stored")
    func twoReplicas() {
        var window = PutWindow(windowMax: 2, replicas: 2)
        _ = window.start()
        #expect(describe(window.handle(Self.filled(0, last: true))) == ["send 0 a", "send 0 b"])
        #expect(describe(window.handle(.stored(index: 0, node: "b"))) == [])  // the buffer is still being sent to a
        #expect(describe(window.handle(.stored(index: 0, node: "a"))) == ["release 0", "commit 0@a+b"])
    }

    @Test("copies go to distinct zones while there are enough; a failed copy is replaced in a zone without one")
    func zones() {
        var window = PutWindow(windowMax: 2, replicas: 2)
        _ = window.start()
        // Rendezvous order a, b, c, d; a and b share zone 1.
        #expect(describe(window.handle(Self.filled(0, ["a/z1", "b/z1", "c/z2", "d/z2"], last: true))) == ["send 0 a", "send 0 c"])
        // c fails: d (zone 2) replaces it, not b (zone 1 already holds a copy).
        #expect(describe(window.handle(.sendFailed(index: 0, .failed(node: "c", reason: "timed out")))) == ["send 0 d"])
        _ = window.handle(.stored(index: 0, node: "d"))
        #expect(describe(window.handle(.stored(index: 0, node: "a"))) == ["release 0", "commit 0@a+d strays c"])
    }

    @Test("zones out of nodes: the second copy shares a zone rather than not being made")
    func zoneRuleRelaxed() {
        var window = PutWindow(windowMax: 2, replicas: 2)
        _ = window.start()
        _ = window.handle(Self.filled(0, ["a/z1", "c/z2", "b/z1"], last: true))
        #expect(describe(window.handle(.sendFailed(index: 0, .failed(node: "c", reason: "refused connection")))) == ["send 0 b"])
        _ = window.handle(.stored(index: 0, node: "a"))
        #expect(describe(window.handle(.stored(index: 0, node: "b"))) == ["release 0", "commit 0@a+b strays c"])
    }

    @Test("fewer nodes than replicas can take a chunk: 503 naming what is missing, every copy sent in the abort")
    func tooFewNodes() {
        var window = PutWindow(windowMax: 2, replicas: 2)
        _ = window.start()
        _ = window.handle(Self.filled(0, ["a", "b", "c"], last: true))
        _ = window.handle(.stored(index: 0, node: "a"))
        #expect(describe(window.handle(.sendFailed(index: 0, .failed(node: "b", reason: "status 507")))) == ["send 0 c"])
        let end = window.handle(.sendFailed(index: 0, .failed(node: "c", reason: "timed out")))
        #expect(describe(end) == ["release 0", "abort 503 copies a,b,c"])
        if case .abort(let error, _) = end.last {
            #expect("\(error)".contains("chunk 0 needs 2 copies, only a could take it"), "\(error)")
            #expect("\(error)".contains("b: status 507") && "\(error)".contains("c: timed out"), "\(error)")
        }
    }

    @Test("random runs: never more than windowMax held, every chunk sent once at a time, every copy sent accounted for",
          arguments: 0..<200)
    func randomRuns(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let windowMax = Int.random(in: 1...4, using: &random)
        let chunks = Int.random(in: 0...12, using: &random)
        let replicas = Int.random(in: 1...3, using: &random)
        var window = PutWindow(windowMax: windowMax, replicas: replicas)
        var actions = window.start()
        var inFlight: [PutWindow.Send] = []
        var sent: [ChunkCopy] = []
        var filledCount = 0
        var released = Set<Int>()
        for _ in 0..<10_000 {
            for action in actions {
                switch action {
                case .send(let send):
                    #expect(!inFlight.contains { $0.index == send.index && $0.node == send.node }, "chunk \(send.index) sent to \(send.node) twice at once (seed \(seed))")
                    #expect(!released.contains(send.index), "chunk \(send.index) sent after its buffer was released (seed \(seed))")
                    inFlight.append(send)
                    sent.append(ChunkCopy(chunk: send.id, node: send.node))
                case .release(let index):
                    #expect(released.insert(index).inserted, "chunk \(index) released twice (seed \(seed))")
                case .commit(let records, let strays):
                    #expect(records.map(\.index) == Array(0..<chunks), "seed \(seed)")
                    #expect(records.allSatisfy { Set($0.replicas).count == replicas }, "a chunk without \(replicas) distinct copies (seed \(seed))")
                    let kept = records.flatMap { record in record.replicas.map { ChunkCopy(chunk: record.id, node: $0) } }
                    #expect(Set(kept + strays) == Set(sent) && kept.count + strays.count == sent.count, "seed \(seed)")
                case .abort(_, let copies):
                    #expect(copies == sent, "seed \(seed)")
                case .fill:
                    break
                }
            }
            #expect(window.held <= windowMax, "seed \(seed)")
            guard !window.isFinished else { break }
            let fillAsked = actions.contains { if case .fill = $0 { true } else { false } }
            actions = []
            if fillAsked {
                if filledCount == chunks {
                    actions = window.handle(.bodyEnded)
                } else if Int.random(in: 0..<50, using: &random) == 0 {
                    actions = window.handle(.fillFailed(.body(.timedOut("reading the body"))))
                } else {
                    let index = filledCount
                    filledCount += 1
                    actions = window.handle(Self.filled(index, ["a/z1", "b/z1", "c/z2", "d/z3"], last: filledCount == chunks && Bool.random(using: &random)))
                }
            } else if !inFlight.isEmpty {
                let send = inFlight.remove(at: Int.random(in: 0..<inFlight.count, using: &random))
                actions = Int.random(in: 0..<4, using: &random) == 0
                    ? window.handle(.sendFailed(index: send.index, .failed(node: send.node, reason: "injected")))
                    : window.handle(.stored(index: send.index, node: send.node))
            }
        }
        #expect(window.isFinished, "the upload never ended (seed \(seed))")
        #expect(window.held == 0 && inFlight.isEmpty, "seed \(seed)")
        #expect(released == Set(0..<filledCount), "every buffer filled is released (seed \(seed))")
    }
}
