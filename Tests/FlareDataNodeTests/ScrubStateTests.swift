import FlareDataNode
import Testing

@Suite("Scrub state: what a restart keeps of the schedule")
struct ScrubStateTests {
    @Test("the text round-trips, with and without a finished pass; unknown lines are ignored")
    func roundTrip() {
        let first = ScrubState(sinceNanoseconds: 1_700_000_000_000_000_001)
        #expect(first.encoded == "since_ns=1700000000000000001\n")
        #expect(ScrubState.parse(first.encoded) == first)
        let later = ScrubState(sinceNanoseconds: 5, lastPassEndNanoseconds: 1_800_000_000_000_000_000)
        #expect(ScrubState.parse(later.encoded) == later)
        #expect(ScrubState.parse("version=2\nsince_ns=5\nlast_pass_end_ns=9\nnext_thing=x\n") == ScrubState(sinceNanoseconds: 5, lastPassEndNanoseconds: 9))
    }

    @Test("a file without since_ns, or with a value that is not a number, is refused", arguments: [
        "", "last_pass_end_ns=9\n", "since_ns=abc\n", "since_ns=5\nlast_pass_end_ns=\n", "since_ns=5\nlast_pass_end_ns=1e9\n",
    ])
    func malformed(text: String) {
        #expect(ScrubState.parse(text) == nil, "\(text.debugDescription)")
    }

    @Test("the next pass is one interval after the last one ended, or after the state began")
    func nextPass() {
        let hour: Int64 = 3_600_000_000_000
        let before = ScrubState(sinceNanoseconds: 10 * hour)
        #expect(before.nextPassDue(intervalNanoseconds: hour, now: 10 * hour) == 11 * hour)
        #expect(before.nextPassDue(intervalNanoseconds: hour, now: 50 * hour) == 11 * hour, "overdue: at once")
        let after = ScrubState(sinceNanoseconds: 10 * hour, lastPassEndNanoseconds: 20 * hour)
        #expect(after.nextPassDue(intervalNanoseconds: 2 * hour, now: 21 * hour) == 22 * hour)
        // A clock set back: the last pass seems to end in the future; count from now instead.
        #expect(after.nextPassDue(intervalNanoseconds: 2 * hour, now: 5 * hour) == 7 * hour)
        #expect(after.nextPassDue(intervalNanoseconds: .max, now: 21 * hour) == .max, "no overflow")
    }
}
