import FlareCluster
import FlareCore

/// The bookkeeping of a pipelined upload: when to read the next chunk from the body, which
/// `replicas` nodes each chunk goes to and which node replaces one that fails it, and when
/// the upload is over — committed, or aborted with every copy that may have landed. Pure:
/// the driver (``ObjectWriter``) does the I/O and reports what happened, so every path is
/// tested without sockets.
///
/// At most `windowMax` chunks are ever held — filled and not yet stored `replicas` times —
/// so an upload holds at most `windowMax` buffers (a chunk's copies are all sent from its
/// one buffer), and a slow node holds back the body's reading.
///
/// Where a chunk's copies go is ``ReplicaPlacement/nextCopy(_:tried:zonesInUse:)`` over its
/// candidates in rendezvous order: a zone gets a second copy only when no candidate left is
/// in a new zone, and a suspect or down node gets one only when the healthy ones cannot make
/// up the replicas.
struct PutWindow: Sendable {
    /// A node a chunk may go to.
    typealias Candidate = CopyCandidate

    /// What happened.
    enum Event: Sendable {
        /// The body filled chunk `index` (the next one); `last` when the body ended with it.
        case filled(index: Int, id: ChunkID, length: Int, crc32c: UInt32, candidates: [Candidate], last: Bool)
        /// The body ended on a chunk boundary (or was empty).
        case bodyEnded
        /// Reading the next chunk failed (the body, or getting it an id).
        case fillFailed(ObjectWriteError)
        /// The fill asked for was not made: the upload failed while it waited for a buffer.
        case fillAbandoned
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
        /// Fill the next chunk from the body (then report `filled`, `bodyEnded`,
        /// `fillFailed`, or `fillAbandoned` when the upload failed before a buffer was free).
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
        var candidates: [Candidate]
        /// Candidates (by position) a copy was sent to, in order.
        var tried: [Int] = []
        /// Positions of the candidates that stored it.
        var stored: [Int] = []
        /// Positions whose send has answered, and of those the ones that failed.
        var answered: Set<Int> = []
        var failed: Set<Int> = []
        var reasons: [String] = []

        /// Zones holding a copy or about to.
        var zonesInUse: Set<String> {
            Set(tried.filter { !failed.contains($0) }.map { candidates[$0].zone })
        }

        /// Copies sent and not yet answered.
        var sending: Int { tried.count - answered.count }
    }

    let windowMax: Int
    /// Copies of every chunk before the upload may commit.
    let replicas: Int
    private var pending: [Int: Pending] = [:]
    private var records: [ChunkRecord] = []
    private var sent: [ChunkCopy] = []
    private var nextIndex = 0
    private var filling = false
    private var bodyEnded = false
    private var failure: ObjectWriteError?
    private(set) var isFinished = false

    init(windowMax: Int, replicas: Int = 1) {
        precondition(windowMax > 0 && replicas > 0)
        self.windowMax = windowMax
        self.replicas = replicas
    }

    /// Chunks filled and not yet stored (their buffers are held).
    var held: Int { pending.count }

    /// The upload has failed and only waits for its copies in flight to answer.
    var hasFailed: Bool { failure != nil }

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
            filling = false
            nextIndex += 1
            bodyEnded = last
            guard failure == nil else { return [.release(index: index)] + finishIfDone() }
            pending[index] = Pending(id: id, length: length, crc32c: crc32c, candidates: candidates)
            let sends = (0..<replicas).compactMap { _ in sendToNextCandidate(index) }
            guard sends.count == replicas else {
                // Fewer nodes known than copies (nodes not reached since the api started).
                fail(.storage(ChunkUnavailable(reasons: ["chunk \(index) needs \(replicas) copies, and \(candidates.count) data node(s) are known"])))
                guard sends.isEmpty else { return sends }  // those answer, then the chunk settles
                pending.removeValue(forKey: index)
                return [.release(index: index)] + finishIfDone()
            }
            return sends + fillIfRoom()
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
        case .fillAbandoned:
            precondition(filling && failure != nil, "a fill abandoned while none was asked for, or the upload had not failed")
            filling = false
            return finishIfDone()
        case .stored(let index, let node):
            let position = answered(index, by: node)
            pending[index]!.stored.append(position)
            return settle(index)
        case .sendFailed(let index, let error):
            let position = answered(index, by: error.node)
            pending[index]!.reasons.append(error.description)
            pending[index]!.failed.insert(position)
            if case .refused = error { fail(.storage(ChunkUnavailable(reasons: pending[index]!.reasons))) }
            if failure == nil, let send = sendToNextCandidate(index) { return [send] }
            return settle(index)
        }
    }

    /// Marks the copy of chunk `index` sent to `node` as answered; returns its candidate position.
    private mutating func answered(_ index: Int, by node: String) -> Int {
        guard let chunk = pending[index] else { preconditionFailure("chunk \(index) answered but is not in flight") }
        guard let position = chunk.tried.first(where: { chunk.candidates[$0].node == node && !chunk.answered.contains($0) }) else {
            preconditionFailure("chunk \(index) answered by \(node), which it was not sent to")
        }
        pending[index]!.answered.insert(position)
        return position
    }

    /// Once no copy of chunk `index` is in flight: stored `replicas` times, it is recorded;
    /// else the upload fails. Either way its buffer goes back.
    private mutating func settle(_ index: Int) -> [Action] {
        let chunk = pending[index]!
        guard chunk.sending == 0 else { return [] }
        pending.removeValue(forKey: index)
        if chunk.stored.count >= replicas {
            let nodes = chunk.stored.sorted().map { chunk.candidates[$0].node }
            records.append(ChunkRecord(index: index, id: chunk.id, length: chunk.length, crc32c: chunk.crc32c, replicas: nodes))
        } else {
            let have = chunk.stored.map { chunk.candidates[$0].node }
            let reasons = ["chunk \(index) needs \(replicas) copies, \(have.isEmpty ? "no node" : "only " + have.joined(separator: ", ")) could take it"]
                + chunk.reasons
            fail(.storage(ChunkUnavailable(reasons: reasons)))
        }
        return [.release(index: index)] + fillIfRoom() + finishIfDone()
    }

    private mutating func fail(_ error: ObjectWriteError) {
        if failure == nil { failure = error }
    }

    /// The next copy of chunk `index` (a first, another, or a replacement); `nil` when every
    /// candidate was tried.
    private mutating func sendToNextCandidate(_ index: Int) -> Action? {
        let chunk = pending[index]!
        guard let position = ReplicaPlacement.nextCopy(chunk.candidates, tried: Set(chunk.tried), zonesInUse: chunk.zonesInUse)
        else { return nil }
        pending[index]!.tried.append(position)
        let node = chunk.candidates[position].node
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
        let kept = Set(records.flatMap { record in record.replicas.map { ChunkCopy(chunk: record.id, node: $0) } })
        return [.commit(records, strays: sent.filter { !kept.contains($0) })]
    }
}
