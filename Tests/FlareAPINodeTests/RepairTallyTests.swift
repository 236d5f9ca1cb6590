@testable import FlareAPINode
import Testing

/// The repair's progress as `GET /admin/repair` and `/metrics` show it, on a driven clock.
@Suite("RepairTally")
struct RepairTallyTests {
    @Test("a pass: scanning has no ETA, copying has one from the rate so far, idle is done")
    func pass() {
        var tally = RepairTally()
        #expect(tally.etaSeconds(at: .zero) == nil && tally.phase == .idle)
        tally.beginScan(at: .seconds(10), wallNanoseconds: 1, lostNodes: ["n"])
        #expect(tally.phase == .scanning && tally.etaSeconds(at: .seconds(11)) == nil)
        tally.beginCopying(chunks: 4, bytes: 400, lost: 3, few: 0, misplaced: 1, bad: 0, at: .seconds(12))
        #expect(tally.phase == .copying && tally.etaSeconds(at: .seconds(12)) == nil, "no rate before the first copy")
        tally.copied(bytes: 100)
        #expect(tally.rate(at: .seconds(14)) == 50)
        #expect(tally.etaSeconds(at: .seconds(14)) == 6, "300 bytes left at 50 B/s")
        tally.copied(bytes: 100)
        tally.failedCopy()
        tally.endPass()
        #expect(tally.phase == .idle && tally.etaSeconds(at: .seconds(20)) == 0)
        #expect(tally.copies == 2 && tally.bytes == 200 && tally.failed == 1)
        #expect(tally.pass?.chunksDone == 2 && tally.pass?.lost == 3 && tally.pass?.misplaced == 1)
    }

    @Test("a pass that finds nothing is idle at once; copies beyond the count raise the total")
    func edges() {
        var tally = RepairTally()
        tally.beginScan(at: .zero, wallNanoseconds: 0, lostNodes: [])
        tally.beginCopying(chunks: 0, bytes: 0, lost: 0, few: 0, misplaced: 0, bad: 0, at: .zero)
        #expect(tally.phase == .idle)
        tally.beginScan(at: .zero, wallNanoseconds: 0, lostNodes: [])
        tally.beginCopying(chunks: 1, bytes: 10, lost: 1, few: 0, misplaced: 0, bad: 0, at: .zero)
        tally.copied(bytes: 10)
        tally.copied(bytes: 10)
        #expect(tally.pass?.chunksTotal == 2 && tally.pass?.bytesTotal == 20)
        #expect(tally.etaSeconds(at: .seconds(1)) == 0)
    }
}
