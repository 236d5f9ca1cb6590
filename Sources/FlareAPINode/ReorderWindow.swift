/// The bookkeeping of a parallel, in-order read: which chunks to fetch next and which
/// fetched chunk may be sent. Pure, so it is tested without sockets.
///
/// At most `windowMax` chunks are ever outstanding — fetching, or fetched and waiting for
/// an earlier one — so a slow chunk holds back at most `windowMax` buffers.
public struct ReorderWindow: Sendable {
    public let indices: Range<Int>
    public let windowMax: Int
    public private(set) var nextToFetch: Int
    public private(set) var nextToSend: Int
    private var arrived: Set<Int> = []

    public init(indices: Range<Int>, windowMax: Int) {
        precondition(windowMax > 0)
        self.indices = indices
        self.windowMax = windowMax
        nextToFetch = indices.lowerBound
        nextToSend = indices.lowerBound
    }

    /// The next chunk to fetch, if the window has room for it (without starting it).
    public var nextFetch: Int? {
        nextToFetch < indices.upperBound && nextToFetch - nextToSend < windowMax ? nextToFetch : nil
    }

    /// Starts fetching ``nextFetch``, which must not be `nil`; returns it.
    public mutating func startNextFetch() -> Int {
        guard let index = nextFetch else { preconditionFailure("no chunk to fetch: window full or every chunk started") }
        nextToFetch += 1
        return index
    }

    /// Records that a chunk arrived.
    public mutating func arrived(_ index: Int) {
        precondition(index >= nextToSend && index < nextToFetch, "chunk \(index) was not being fetched")
        precondition(!arrived.contains(index), "chunk \(index) arrived twice")
        arrived.insert(index)
    }

    /// The next chunk to send, if it has arrived (call until `nil`).
    public mutating func nextSendable() -> Int? {
        guard arrived.remove(nextToSend) != nil else { return nil }
        defer { nextToSend += 1 }
        return nextToSend
    }

    /// Chunks fetching or waiting to be sent.
    public var outstanding: Int { nextToFetch - nextToSend }

    public var isFinished: Bool { nextToSend == indices.upperBound }
}
