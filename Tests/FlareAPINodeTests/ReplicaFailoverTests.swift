@testable import FlareAPINode
import FlareCluster
import FlareCore
import FlareHTTP
import FlareIO
import FlareMetrics
import FlareTestSupport
import Synchronization
import Testing

/// Ways a data node can fail to serve a chunk, each played by a raw TCP peer (or no peer).
enum Misbehaviour: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case wrongBytes, wrongLength, closesMidBody, stallsMidBody, neverAnswers, serverError, notFound, refusesConnections

    var testDescription: String { rawValue }

    /// The `reason` label the read must count it under.
    var fault: ReplicaFault {
        switch self {
        case .wrongBytes: return .checksum
        case .wrongLength: return .length
        case .closesMidBody: return .shortBody
        case .stallsMidBody, .neverAnswers: return .timeout
        case .serverError: return .status
        case .notFound: return .missing
        case .refusesConnections: return .connect
        }
    }

    /// What the peer does with each connection, given the chunk's true bytes.
    func script(_ good: [UInt8]) -> ScriptedPeer.Script {
        { _, connection in
            guard try await readRequestHead(connection) else { return }
            let head = "HTTP/1.1 200 OK\r\nContent-Length: \(good.count)\r\n\r\n"
            switch self {
            case .wrongBytes:
                var flipped = good
                flipped[good.count / 2] ^= 0x40
                try await sendBytes(connection, Array(head.utf8) + flipped)
                try await waitForClientClose(connection)
            case .wrongLength:
                try await sendBytes(connection, Array("HTTP/1.1 200 OK\r\nContent-Length: \(good.count - 1)\r\n\r\n".utf8) + good.dropLast())
                try await waitForClientClose(connection)
            case .closesMidBody:
                try await sendBytes(connection, Array(head.utf8) + good.prefix(good.count / 2))
            case .stallsMidBody:
                try await sendBytes(connection, Array(head.utf8) + good.prefix(good.count / 2))
                try await waitForClientClose(connection)
            case .neverAnswers:
                try await waitForClientClose(connection)
            case .serverError:
                try await connection.send("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
                try await waitForClientClose(connection)
            case .notFound:
                try await connection.send("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                try await waitForClientClose(connection)
            case .refusesConnections:
                preconditionFailure("a refusing node has no peer")
            }
        }
    }
}

/// A port nothing listens on: bound, then closed.
func refusingAddress(on loop: EventLoop) async throws -> SocketAddress {
    try await loop.run {
        let listener = try TCPListener(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop)
        let address = listener.localAddress
        await listener.close()
        return address
    }
}

/// Reads fail over chunk by chunk: a bad replica before a good one costs a log line and a
/// count, never the read.
@Suite("API node: a chunk is read from the next replica when one cannot serve it", .timeLimit(.minutes(2)))
struct ReplicaFailoverTests {
    static let good = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
    static let crc = good.withUnsafeBytes { CRC32C.checksum($0) }

    @Test("a bad replica first, a good one second: the good bytes, the bad one counted and reported with its reason",
          arguments: testedEngines, Misbehaviour.allCases)
    func badThenGood(engine: IOEngineKind, misbehaviour: Misbehaviour) async throws {
        try await withLyingDataNode(engine, body: Self.good) { goodAddress, loop in
            let peer: ScriptedPeer? = misbehaviour == .refusesConnections ? nil : try ScriptedPeer(on: loop, misbehaviour.script(Self.good))
            let badAddress: SocketAddress
            if let peer { badAddress = peer.address } else { badAddress = try await refusingAddress(on: loop) }
            let goodNode = "127.0.0.1:\(goodAddress.port)", badNode = "127.0.0.1:\(badAddress.port)"
            let metrics = NodeMetrics()
            let chunk = ChunkRecord(index: 0, id: ChunkID.random(), length: Self.good.count, crc32c: Self.crc, replicas: [badNode, goodNode])
            let outcome: (bytes: [UInt8]?, error: String?, reported: [BadReplica]) = try await loop.run {
                let client = DataNodeClient(loop: loop, directory: .of([goodNode: goodAddress, badNode: badAddress]), metrics: metrics,
                                            timeout: .milliseconds(500))
                let pool = BufferPool(bufferBytes: 1 << 20, bufferCount: 1, loop: loop)
                let buffer = try await pool.acquire()
                var reported: [BadReplica] = []
                do {
                    try await client.fetch(chunk, into: buffer, metrics: metrics) { reported.append($0) }
                    let bytes = Array(buffer.bytes)
                    await client.client.closeIdle()
                    return (bytes, nil, reported)
                } catch {
                    await client.client.closeIdle()
                    return (nil, "\(error)", reported)
                }
            }
            await peer?.stop()
            #expect(outcome.error == nil, "the good replica was not read: \(outcome.error ?? "")")
            #expect(outcome.bytes == Self.good, "the bytes read are not the good replica's")
            let reason = misbehaviour.fault.rawValue
            #expect(metrics.value("flare_api_bad_replicas_total", ["node": "\(badNode)", "reason": "\(reason)"]) == 1,
                    "not counted as \(reason): \(metrics.render())")
            #expect(!metrics.render().contains("flare_api_bad_replicas_total{node=\"\(goodNode)\""), "the good replica was counted bad")
            // Only what says the copy itself is bad goes to the repair; a node that could not
            // answer is the health table's business.
            #expect(misbehaviour.fault.copyIsBad == [.wrongBytes, .wrongLength, .notFound].contains(misbehaviour))
            let reported = outcome.reported
            #expect(reported.count == 1 && reported.first?.node == badNode && reported.first?.chunk == chunk.id
                    && reported.first?.fault == misbehaviour.fault,
                    "reported \(outcome.reported)")
            if let peer { #expect(peer.connections == 1, "the bad replica was asked \(peer.connections) times") }
        }
    }

    @Test("a fetch cancelled by its caller (the client went away) leaves its node up: only the node's own failures count",
          arguments: testedEngines)
    func cancelledFetchLeavesNodeUp(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "cancel-\(engine)")
        defer { loop.shutdown() }
        let silent = try ScriptedPeer(on: loop, Misbehaviour.neverAnswers.script(Self.good))
        let node = "127.0.0.1:\(silent.address.port)"
        let directory = NodeDirectory.of([node: silent.address])
        let chunk = ChunkRecord(index: 0, id: ChunkID.random(), length: Self.good.count, crc32c: Self.crc, replicas: [node])
        let up: Bool = try await loop.run {
            let client = DataNodeClient(loop: loop, directory: directory, metrics: NodeMetrics(), timeout: .seconds(30))
            let pool = BufferPool(bufferBytes: 1 << 20, bufferCount: 1, loop: loop)
            let buffer = try await pool.acquire()
            let fetch = Task(executorPreference: loop) {
                try? await client.fetch(chunk, into: buffer, metrics: NodeMetrics()) { _ in }
            }
            try await loop.sleep(for: .milliseconds(200))  // the request is out, the peer silent
            fetch.cancel()
            _ = await fetch.value
            await client.client.closeIdle()
            return directory.isUp(node)
        }
        await silent.stop()
        #expect(up, "a cancelled exchange made its node suspect")
    }

    @Test("no replica can serve: an error naming every replica's reason, each counted", arguments: testedEngines)
    func noneCanServe(engine: IOEngineKind) async throws {
        try skipIfUnavailable(engine)
        let loop = try EventLoop.start(engine: engine, name: "none-\(engine)")
        defer { loop.shutdown() }
        let silent = try ScriptedPeer(on: loop, Misbehaviour.neverAnswers.script(Self.good))
        let failing = try ScriptedPeer(on: loop, Misbehaviour.serverError.script(Self.good))
        let silentNode = "127.0.0.1:\(silent.address.port)", failingNode = "127.0.0.1:\(failing.address.port)"
        let metrics = NodeMetrics()
        let chunk = ChunkRecord(index: 0, id: ChunkID.random(), length: Self.good.count, crc32c: Self.crc, replicas: [silentNode, failingNode])
        let error: String? = try await loop.run {
            let client = DataNodeClient(loop: loop, directory: .of([silentNode: silent.address, failingNode: failing.address]),
                                        metrics: metrics, timeout: .milliseconds(500))
            let pool = BufferPool(bufferBytes: 1 << 20, bufferCount: 1, loop: loop)
            let buffer = try await pool.acquire()
            let message: String?
            do {
                try await client.fetch(chunk, into: buffer, metrics: metrics) { _ in }
                message = nil
            } catch {
                message = "\(error)"
            }
            await client.client.closeIdle()
            return message
        }
        await silent.stop()
        await failing.stop()
        let message = try #require(error, "a chunk no replica could serve was returned")
        #expect(message.contains(silentNode) && message.contains("timed out") && message.contains(failingNode) && message.contains("status 500"),
                "\(message)")
        #expect(metrics.value("flare_api_bad_replicas_total", ["node": "\(silentNode)", "reason": "timeout"]) == 1)
        #expect(metrics.value("flare_api_bad_replicas_total", ["node": "\(failingNode)", "reason": "status"]) == 1)
    }
}
