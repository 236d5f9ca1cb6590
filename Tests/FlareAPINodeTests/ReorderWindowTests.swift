import FlareAPINode
import FlareTestSupport
import Testing

/// The GET reorder buffer as a pure state machine: fetches arrive in any order, sends leave
/// strictly in order, and never more than `windowMax` chunks are outstanding.
@Suite("ReorderWindow")
struct ReorderWindowTests {
    /// Drives a window to the end, letting a fetch in flight arrive at random each step.
    /// Returns the send order; checks the bound and the in-order property at every step.
    private func simulate(_ indices: Range<Int>, windowMax: Int, using generator: inout SeededGenerator,
                          context: String) -> [Int] {
        var window = ReorderWindow(indices: indices, windowMax: windowMax)
        var inFlight: [Int] = []
        var sent: [Int] = []
        var steps = 0
        while !window.isFinished {
            steps += 1
            guard steps <= 4 * indices.count + 4 else {
                Issue.record("no progress after \(steps) steps: \(context)")
                break
            }
            inFlight += window.fetchesToStart()
            #expect(window.outstanding <= windowMax, "outstanding \(window.outstanding) > \(windowMax): \(context)")
            guard !inFlight.isEmpty else {
                Issue.record("nothing in flight but not finished: \(context)")
                break
            }
            let arriving = inFlight.remove(at: Int.random(in: 0..<inFlight.count, using: &generator))
            window.arrived(arriving)
            while let next = window.nextSendable() { sent.append(next) }
            #expect(window.outstanding <= windowMax, "outstanding \(window.outstanding) > \(windowMax): \(context)")
        }
        #expect(inFlight.isEmpty, "fetches left in flight at the end: \(context)")
        return sent
    }

    @Test("random arrival orders: bounded outstanding, strictly ordered sends")
    func randomArrivals() {
        for seed in UInt64(1)...2_000 {
            var generator = SeededGenerator(seed: seed)
            let start = Int.random(in: 0...20, using: &generator)
            let count = Int.random(in: 0...60, using: &generator)
            let windowMax = Int.random(in: 1...12, using: &generator)
            let indices = start..<(start + count)
            let context = "seed \(seed), indices \(indices), windowMax \(windowMax)"
            let sent = simulate(indices, windowMax: windowMax, using: &generator, context: context)
            #expect(sent == Array(indices), "\(context): sent \(sent)")
        }
    }

    @Test("every permutation of arrivals within one window sends 0…n-1 in order")
    func allPermutations() {
        let count = 6
        var permutations: [[Int]] = [[]]
        for element in 0..<count {
            permutations = permutations.flatMap { partial in
                (0...partial.count).map { position in
                    var next = partial
                    next.insert(element, at: position)
                    return next
                }
            }
        }
        #expect(permutations.count == 720)
        for order in permutations {
            var window = ReorderWindow(indices: 0..<count, windowMax: count)
            #expect(window.fetchesToStart() == Array(0..<count))
            var sent: [Int] = []
            var arrived: Set<Int> = []
            for index in order {
                window.arrived(index)
                arrived.insert(index)
                while let next = window.nextSendable() { sent.append(next) }
                // Exactly the arrived prefix 0..<k has been sent: no gap is skipped, nothing waits needlessly.
                let prefix = (0..<count).first { !arrived.contains($0) } ?? count
                #expect(sent == Array(0..<prefix), "order \(order)")
            }
            #expect(sent == Array(0..<count), "order \(order)")
            #expect(window.isFinished)
        }
    }

    @Test("a slow first chunk holds back the window: nothing new starts until it is sent")
    func slowFirstChunk() {
        var window = ReorderWindow(indices: 10..<30, windowMax: 4)
        #expect(window.fetchesToStart() == [10, 11, 12, 13])
        for index in [13, 12, 11] {
            window.arrived(index)
            #expect(window.nextSendable() == nil)
            #expect(window.fetchesToStart().isEmpty, "a later arrival must not free a slot")
        }
        #expect(window.outstanding == 4)
        window.arrived(10)
        var sent: [Int] = []
        while let next = window.nextSendable() { sent.append(next) }
        #expect(sent == [10, 11, 12, 13])
        #expect(window.outstanding == 0)
        #expect(window.fetchesToStart() == [14, 15, 16, 17])
    }

    @Test("finished state: empty range is finished at once; a drained window starts and sends nothing")
    func finished() {
        var empty = ReorderWindow(indices: 5..<5, windowMax: 3)
        #expect(empty.isFinished)
        #expect(empty.fetchesToStart().isEmpty)
        #expect(empty.nextSendable() == nil)
        #expect(empty.outstanding == 0)

        var window = ReorderWindow(indices: 0..<3, windowMax: 8)
        #expect(window.fetchesToStart() == [0, 1, 2], "a window larger than the range starts the whole range")
        #expect(!window.isFinished)
        for index in [2, 0, 1] { window.arrived(index) }
        #expect(!window.isFinished, "arrived is not sent")
        var sent: [Int] = []
        while let next = window.nextSendable() { sent.append(next) }
        #expect(sent == [0, 1, 2])
        #expect(window.isFinished)
        #expect(window.outstanding == 0)
        #expect(window.fetchesToStart().isEmpty)
        #expect(window.nextSendable() == nil)
    }

    @Test("windowMax 1 is a sequential read")
    func windowOfOne() {
        var window = ReorderWindow(indices: 0..<5, windowMax: 1)
        for index in 0..<5 {
            #expect(window.fetchesToStart() == [index])
            #expect(window.fetchesToStart().isEmpty)
            window.arrived(index)
            #expect(window.nextSendable() == index)
            #expect(window.nextSendable() == nil)
        }
        #expect(window.isFinished)
    }
}

extension ReorderWindow {
    /// Every chunk the window has room to start now, started (the reader starts them one by
    /// one as buffers are free; the tests take them all at once).
    mutating func fetchesToStart() -> [Int] {
        var starts: [Int] = []
        while nextFetch != nil { starts.append(startNextFetch()) }
        return starts
    }
}
