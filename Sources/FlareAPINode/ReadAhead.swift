/// How many chunks one GET may have fetching or fetched-and-unsent beyond the one it is
/// sending: as many as its client takes, not as many as the window allows. Pure: the reader
/// tells it how long fetches and sends took.
///
/// A client that reads slowly, or not at all, would otherwise hold a whole window of chunk
/// buffers while it sends nothing back (20 connections that never read took a loop's 64
/// buffers, and an unrelated GET waited 28 s). So a GET starts with two chunks in flight,
/// doubles the limit up to the window each time a chunk went out to its client no slower
/// than chunks come from the data nodes (the disks are the bound: more in parallel helps),
/// and drops to one chunk ahead when a send took longer than a fetch (the client is the
/// bound: one chunk ready is all it can use). A client that never reads holds three buffers
/// (one being sent, two ahead) until the send times out.
struct ReadAhead: Sendable, Equatable {
    let windowMax: Int
    /// Chunks that may be outstanding (fetching, or waiting to be sent) now.
    private(set) var limit: Int
    /// A moving average of how long a chunk's fetch takes, seconds.
    private(set) var fetchSeconds: Double?

    init(windowMax: Int) {
        precondition(windowMax > 0)
        self.windowMax = windowMax
        limit = min(2, windowMax)
    }

    /// A chunk arrived `seconds` after its fetch began.
    mutating func fetched(seconds: Double) {
        fetchSeconds = fetchSeconds.map { 0.75 * $0 + 0.25 * seconds } ?? seconds
    }

    /// A chunk's bytes took `seconds` to go out to the client.
    mutating func sent(seconds: Double) {
        if let fetchSeconds, seconds > fetchSeconds {
            limit = 1
        } else {
            limit = min(windowMax, limit * 2)
        }
        assert((1...windowMax).contains(limit), "read-ahead \(limit) outside 1…\(windowMax)")
    }
}
