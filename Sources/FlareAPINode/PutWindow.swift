import FlareCore

/// The bookkeeping of a pipelined upload: when to read the next chunk from the body, where
/// to send each chunk and where to send it next when a node fails it, and when the upload is
/// over — committed, or aborted with every copy that may have landed. Pure: the driver
/// (``ObjectWriter``) does the I/O and reports what happened, so every path is tested
/// without sockets.
///
/// At most `windowMax` chunks are ever held — filled and not yet stored — so an upload
/// holds at most `windowMax` buffers, and a slow node holds back the body's reading.
struct PutWindow: Sendable {
    /// What happened.
    enum Event: Sendable {
        /// The body filled chunk `index` (the next one); `last` when the body ended with it.
        case filled(index: Int, id: ChunkID, length: Int, crc32c: UInt32, candidates: [String], last: Bool)
        /// The body ended on a chunk boundary (or was empty).
        case bodyEnded
        /// Reading the next chunk failed (the body, or getting it an id).
        case fillFailed(ObjectWriteError)
        /// `node` has chunk `index` durably.
        case stored(index: Int, node: String)
        /// `node` did not store chunk `index`.
        case sendFailed(index: Int, ChunkTransportError)
    }

    /// One send of a chunk to a node.
    struct Send: Sendable, Equatable {
        var index: Int
        var id: ChunkID
        var crc32c: UInt32
        var node: String
    }

    /// What to do next, in order.
    enum Action: Sendable {
        /// Fill the next chunk from the body (then report `filled`, `bodyEnded` or `fillFailed`).
        case fill
        case send(Send)
        /// Chunk `index`'s buffer is no longer needed.
        case release(index: Int)
        /// Every chunk is stored: commit these records. `strays` are copies sent that the
        /// records do not name (attempts that failed over); they may exist.
        case commit([ChunkRecord], strays: [ChunkCopy])
        /// Nothing is committed; `copies` is every copy sent, any of which may exist.
        case abort(ObjectWriteError, copies: [ChunkCopy])
    }

    private struct Pending {
        var id: ChunkID
        var length: Int
        var crc32c: UInt32
        var candidates: [String]
        var tried = 0
        var reasons: [String] = []
    }

    let windowMax: Int
    private var pending: [Int: Pending] = [:]
    private var records: [ChunkRecord] = []
    private var sent: [ChunkCopy] = []
    private var nextIndex = 0
    private var filling = false
    private var bodyEnded = false
    private var failure: ObjectWriteError?
    private(set) var isFinished = false

    init(windowMax: Int) {
        precondition(windowMax > 0)
        self.windowMax = windowMax
    }

    /// Chunks filled and not yet stored (their buffers are held).
    var held: Int { pending.count }

    /// The first actions of an upload.
    mutating func start() -> [Action] {
        precondition(nextIndex == 0 && !filling && !isFinished, "started twice")
        return fillIfRoom()
    }

    mutating func handle(_ event: Event) -> [Action] {
        precondition(!isFinished, "event \(event) after the upload ended")
        switch event {
        case .filled(let index, let id, let length, let crc32c, let candidates, let last):
            precondition(filling && index == nextIndex, "chunk \(index) filled out of turn (next is \(nextIndex))")
            precondition(!candidates.isEmpty, "chunk \(index) has no candidate node")
            filling = false
            nextIndex += 1
            bodyEnded = last
            guard failure == nil else { return [.release(index: index)] + finishIfDone() }
            pending[index] = Pending(id: id, length: length, crc32c: crc32c, candidates: candidates)
            return [sendToNextCandidate(index)] + fillIfRoom()
        case .bodyEnded:
            precondition(filling, "body ended while no fill was asked for")
            filling = false
            bodyEnded = true
            return finishIfDone()
        case .fillFailed(let error):
            precondition(filling, "fill failed while no fill was asked for")
            filling = false
            fail(error)
            return finishIfDone()
        case .stored(let index, let node):
            let chunk = taken(index)
            records.append(ChunkRecord(index: index, id: chunk.id, length: chunk.length, crc32c: chunk.crc32c, replicas: [node]))
            return [.release(index: index)] + fillIfRoom() + finishIfDone()
        case .sendFailed(let index, let error):
            precondition(pending[index] != nil, "chunk \(index) failed but is not in flight")
            pending[index]!.reasons.append(error.description)
            let chunk = pending[index]!
            let refused = if case .refused = error { true } else { false }
            if failure == nil && !refused && chunk.tried < chunk.candidates.count {
                return [sendToNextCandidate(index)]
            }
            _ = taken(index)
            fail(.storage(ChunkUnavailable(reasons: chunk.reasons)))
            return [.release(index: index)] + finishIfDone()
        }
    }

    private mutating func taken(_ index: Int) -> Pending {
        guard let chunk = pending.removeValue(forKey: index) else { preconditionFailure("chunk \(index) is not in flight") }
        return chunk
    }

    private mutating func fail(_ error: ObjectWriteError) {
        if failure == nil { failure = error }
    }

    private mutating func sendToNextCandidate(_ index: Int) -> Action {
        let chunk = pending[index]!
        let node = chunk.candidates[chunk.tried]
        pending[index]!.tried += 1
        sent.append(ChunkCopy(chunk: chunk.id, node: node))
        return .send(Send(index: index, id: chunk.id, crc32c: chunk.crc32c, node: node))
    }

    private mutating func fillIfRoom() -> [Action] {
        guard failure == nil && !bodyEnded && !filling && pending.count < windowMax else { return [] }
        filling = true
        return [.fill]
    }

    /// The end, once nothing is in flight: every copy is then accounted for.
    private mutating func finishIfDone() -> [Action] {
        guard !filling && pending.isEmpty else { return [] }
        if let failure {
            isFinished = true
            return [.abort(failure, copies: sent)]
        }
        guard bodyEnded else { return [] }
        isFinished = true
        records.sort { $0.index < $1.index }
        let kept = Set(records.map { ChunkCopy(chunk: $0.id, node: $0.replicas[0]) })
        return [.commit(records, strays: sent.filter { !kept.contains($0) })]
    }
}
