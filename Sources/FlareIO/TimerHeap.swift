/// A binary min-heap of deadlines, for the epoll engine's timeouts. Entries are removed
/// lazily: a fired entry whose operation already finished is simply skipped.
struct TimerHeap {
    struct Entry {
        var deadlineNanoseconds: UInt64
        var token: UInt64
    }

    private var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }
    var earliest: UInt64? { entries.first?.deadlineNanoseconds }

    mutating func insert(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].deadlineNanoseconds < entries[parent].deadlineNanoseconds else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(now: UInt64) -> Entry? {
        guard let first = entries.first, first.deadlineNanoseconds <= now else { return nil }
        let last = entries.removeLast()
        if entries.isEmpty { return first }
        entries[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < entries.count && entries[left].deadlineNanoseconds < entries[smallest].deadlineNanoseconds { smallest = left }
            if right < entries.count && entries[right].deadlineNanoseconds < entries[smallest].deadlineNanoseconds { smallest = right }
            if smallest == parent { break }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }
}
