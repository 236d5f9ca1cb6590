import Testing

/// A counting semaphore for async code, FIFO: how many heavy tests (each with its own node
/// processes) run at once. The whole suite shares two cores and one disk; with every test
/// started at once, nodes that were listening within 3 s went unanswered for 30 s, and a
/// test that only takes a lock took as long.
public actor Slots {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(_ count: Int) {
        precondition(count > 0, "a gate with no slots would never open")
        free = count
    }

    public func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    public func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }

    /// Runs `body` holding one slot, released also when it throws.
    public func withSlot<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        await acquire()
        do {
            let result = try await body()
            release()
            return result
        } catch {
            release()
            throw error
        }
    }
}

/// At most this many clusters (an api and its data nodes, or flare-bench's own local cluster
/// with its yardsticks) run at once, in every test target: the tests share two cores, and a
/// starved node makes timing assertions (and the total runtime) worse, not better.
public let clusterSlots = Slots(3)

/// Holds one of `slots` for each test case of the suite or test it is attached to, so at
/// most that many of them run at once; the rest of the run goes on beside them.
public struct SlotTrait: SuiteTrait, TestTrait, TestScoping {
    public let slots: Slots
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        try await slots.withSlot(function)
    }
}

extension Trait where Self == SlotTrait {
    /// At most as many test cases at once as `slots` has slots.
    public static func limited(by slots: Slots) -> SlotTrait { SlotTrait(slots: slots) }
}
