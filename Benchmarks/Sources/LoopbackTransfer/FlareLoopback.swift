import FlareIO
import Glibc

/// One loopback TCP stream through FlareIO: the receiver on one event loop, the sender on
/// another, so the two loop threads use the two cores like the baseline's two threads.
public final class FlareLoopback: @unchecked Sendable {
    /// The engine both loops run.
    public let kind: IOEngineKind
    private let blockBytes: Int
    private let receiverLoop: EventLoop
    private let senderLoop: EventLoop
    private let listener: TCPListener
    private let sendBuffer: PinnedBuffer
    private let receiveBuffer: PinnedBuffer
    private var closed = false

    /// Starts both loops on `kind` and listens on 127.0.0.1 (a free port).
    /// - Throws: ``IOError`` when a loop or the listener cannot be made.
    public init(kind: IOEngineKind, blockBytes: Int = TransferShape.blockBytes) throws(IOError) {
        self.kind = kind
        self.blockBytes = blockBytes
        receiverLoop = try EventLoop.start(engine: kind, name: "bench-recv-\(kind)")
        do throws(IOError) {
            senderLoop = try EventLoop.start(engine: kind, name: "bench-send-\(kind)")
        } catch {
            receiverLoop.shutdown()
            throw error
        }
        do throws(IOError) {
            listener = try TCPListener(address: SocketAddress(host: "127.0.0.1", port: 0), loop: receiverLoop)
        } catch {
            senderLoop.shutdown()
            receiverLoop.shutdown()
            throw error
        }
        sendBuffer = PinnedBuffer(count: blockBytes, fill: 0x5a)
        receiveBuffer = PinnedBuffer(count: blockBytes, fill: 0)
    }

    /// Sends `totalBytes` over a new connection and waits until the receiver has read all
    /// of them and seen end of stream.
    /// - Throws: ``IOError`` from either side, ``TransferError`` when the byte counts differ.
    public func transfer(totalBytes: Int = TransferShape.totalBytes) async throws -> TransferResult {
        precondition(!closed, "transfer after close")
        let start = monotonicNanoseconds()
        let receiver = receiverLoop.spawn { [listener, receiveBuffer] () async throws -> Int in
            let connection = try await listener.accept()
            var received = 0
            while true {
                let count = try await connection.receive(into: receiveBuffer.space)
                if count == 0 { break }
                received += count
            }
            await connection.close()
            return received
        }
        do {
            try await send(totalBytes: totalBytes)
        } catch {
            // The receiver may still wait in accept (connect failed); cancelling it is
            // forwarded to the engine, so the task ends and its loop can be stopped.
            receiver.cancel()
            _ = await receiver.result
            throw error
        }
        let received = try await receiver.value
        let elapsed = monotonicNanoseconds() - start
        return try TransferResult.verified(received: received, expected: totalBytes,
                                           elapsedNanoseconds: elapsed, label: "FlareIO \(kind)")
    }

    private func send(totalBytes: Int) async throws {
        let address = listener.localAddress
        try await senderLoop.run { [senderLoop, sendBuffer, blockBytes] () async throws in
            let connection = try await TCPConnection.connect(to: address, on: senderLoop)
            var sent = 0
            do {
                while sent < totalBytes {
                    let chunk = min(blockBytes, totalBytes - sent)
                    try await connection.send(sendBuffer.bytes(chunk))
                    sent += chunk
                }
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
        }
    }

    /// Stops listening and stops both loops. Call once, after the last transfer.
    public func close() async throws {
        guard !closed else { return }
        closed = true
        try await receiverLoop.run { [listener] in await listener.close() }
        senderLoop.shutdown()
        receiverLoop.shutdown()
    }
}

/// Why the io_uring cases cannot run here, or `nil` when they can.
public func ioUringUnavailableReason() -> String? {
    IOEngineKind.auto.resolved().fallbackReason
}
