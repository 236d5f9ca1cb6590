import CLiburing

/// Results of up to four chained operations; a single operation uses `first`.
public struct OperationResults: Sendable {
    public var values: (Int32, Int32, Int32, Int32) = (-ECANCELED, -ECANCELED, -ECANCELED, -ECANCELED)

    /// The result of the operation at `index` in its chain.
    public subscript(index: Int) -> Int32 {
        get {
            switch index {
            case 0: return values.0
            case 1: return values.1
            case 2: return values.2
            default: return values.3
            }
        }
        set {
            switch index {
            case 0: values.0 = newValue
            case 1: values.1 = newValue
            case 2: values.2 = newValue
            default: values.3 = newValue
            }
        }
    }
}

/// Per-operation state kept in stable memory while the kernel (or the epoll engine) owns
/// the operation. Its index and generation make the operation's token.
struct OperationSlot {
    var continuation: UnsafeContinuation<OperationResults, Never>?
    var generation: UInt32 = 0
    var pending: Int32 = 0
    var results = OperationResults()
    var timeout = __kernel_timespec()
    var hasTimeout = false
    var cancelRequested = false
    var isSleep = false
}

/// A slab of operation slots that never moves once allocated, so a slot's address (for the
/// kernel timespec) and its token stay valid while an operation is in flight.
///
/// Loop-confined: used only from the owning loop's thread.
final class OperationTable {
    /// Slots per page; pages are added when all slots are busy and never freed.
    static let pageSlots = 1024
    /// Chained operations per slot; a token's low two bits say which one completed.
    static let chainLengthMax = 4

    private var pages: [UnsafeMutablePointer<OperationSlot>] = []
    private var free: [UInt32] = []

    /// Number of slots currently in use.
    private(set) var inUse = 0

    deinit {
        for page in pages {
            page.deinitialize(count: Self.pageSlots)
            page.deallocate()
        }
    }

    /// Takes a free slot and returns its index.
    func allocate() -> UInt32 {
        if free.isEmpty { addPage() }
        inUse += 1
        return free.removeLast()
    }

    /// Returns a slot; its generation changes so stale tokens no longer match it.
    func release(_ index: UInt32) {
        let slot = self[index]
        slot.pointee.continuation = nil
        slot.pointee.generation &+= 1
        slot.pointee.pending = 0
        slot.pointee.hasTimeout = false
        slot.pointee.cancelRequested = false
        slot.pointee.isSleep = false
        slot.pointee.results = OperationResults()
        inUse -= 1
        free.append(index)
    }

    subscript(index: UInt32) -> UnsafeMutablePointer<OperationSlot> {
        pages[Int(index) / Self.pageSlots] + Int(index) % Self.pageSlots
    }

    /// The token of the `position`-th operation in the slot's chain.
    func token(_ index: UInt32, position: Int = 0) -> UInt64 {
        precondition(position < Self.chainLengthMax)
        let generation = UInt64(self[index].pointee.generation & 0x7fff_ffff)
        return generation << 32 | UInt64(index) << 2 | UInt64(position)
    }

    /// Finds the live slot a token refers to, or `nil` when the token is stale.
    func lookup(_ token: UInt64) -> (index: UInt32, position: Int)? {
        let index = UInt32(truncatingIfNeeded: (token & 0xffff_ffff) >> 2)
        guard Int(index) < pages.count * Self.pageSlots else { return nil }
        let generation = UInt32(truncatingIfNeeded: token >> 32) & 0x7fff_ffff
        guard self[index].pointee.generation & 0x7fff_ffff == generation else { return nil }
        return (index, Int(token & 3))
    }

    private func addPage() {
        let page = UnsafeMutablePointer<OperationSlot>.allocate(capacity: Self.pageSlots)
        page.initialize(repeating: OperationSlot(), count: Self.pageSlots)
        let base = UInt32(pages.count * Self.pageSlots)
        pages.append(page)
        free.reserveCapacity(free.count + Self.pageSlots)
        for i in (0..<UInt32(Self.pageSlots)).reversed() { free.append(base + i) }
    }
}
