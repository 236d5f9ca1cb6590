/// At most this many clusters run at once: the tests share two cores, and a starved node
/// makes timing assertions (and the total runtime) worse, not better.
let clusterSlots = Slots(3)

/// A counting semaphore for async code, FIFO.
actor Slots {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = count }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}
