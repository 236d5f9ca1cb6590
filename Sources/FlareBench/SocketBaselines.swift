import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What plain sockets do on this machine, measured in the same run as Flare: blocking
/// `send`/`recv` loops on threads, no framework in between.
public enum SocketBaselines {
    /// Aggregate MB/s of `streams` loopback TCP streams of `bytesPerStream` each, 4 MiB calls.
    public static func loopbackThroughput(streams: Int, bytesPerStream: Int) throws -> BaselineResult {
        let listener = try listeningSocket()
        let port = localPort(listener)
        let blockBytes = 4 << 20
        let started = Date()
        let group = DispatchGroup()
        let failures = FailureCount()
        for _ in 0..<streams {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                let fd = connectLoopback(port)
                guard fd >= 0 else { failures.add(); return }
                defer { close(fd) }
                let block = UnsafeMutableRawPointer.allocate(byteCount: blockBytes, alignment: 4096)
                defer { block.deallocate() }
                memset(block, 0x5a, blockBytes)
                var sent = 0
                while sent < bytesPerStream {
                    let count = send(fd, block, min(blockBytes, bytesPerStream - sent), Int32(MSG_NOSIGNAL))
                    if count <= 0 { failures.add(); return }
                    sent += count
                }
            }
            let connection = accept(listener, nil, nil)
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                defer { close(connection) }
                let block = UnsafeMutableRawPointer.allocate(byteCount: blockBytes, alignment: 4096)
                defer { block.deallocate() }
                var received = 0
                while received < bytesPerStream {
                    let count = recv(connection, block, blockBytes, 0)
                    if count <= 0 { failures.add(); return }
                    received += count
                }
            }
        }
        group.wait()
        close(listener)
        let seconds = Date().timeIntervalSince(started)
        guard failures.value == 0 else { throw BenchError("loopback baseline: \(failures.value) streams failed") }
        return BaselineResult(name: "tcp-loopback-\(streams)", figure: Double(streams * bytesPerStream) / seconds / 1e6, unit: "MB/s")
    }

    /// Round trips per second over `connections` connections: the client sends
    /// `requestBytes`, the server answers 64 bytes — the shape of a small-object request.
    public static func roundTrips(connections: Int, requestBytes: Int, seconds duration: Double) throws -> BaselineResult {
        let listener = try listeningSocket()
        let port = localPort(listener)
        let group = DispatchGroup()
        let total = FailureCount()
        let deadline = Date().addingTimeInterval(duration)
        let started = Date()
        for _ in 0..<connections {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                let fd = connectLoopback(port)
                guard fd >= 0 else { return }
                defer { close(fd) }
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4)
                let request = [UInt8](repeating: 1, count: requestBytes)
                var reply = [UInt8](repeating: 0, count: 64)
                var count = 0
                while Date() < deadline {
                    guard sendAll(fd, request), receiveExactly(fd, &reply, 64) else { break }
                    count += 1
                }
                total.add(count)
            }
            let connection = accept(listener, nil, nil)
            Thread.detachNewThread {
                defer { close(connection) }
                var one: Int32 = 1
                setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4)
                var request = [UInt8](repeating: 0, count: requestBytes)
                let reply = [UInt8](repeating: 2, count: 64)
                while receiveExactly(connection, &request, requestBytes), sendAll(connection, reply) {}
            }
        }
        group.wait()
        close(listener)
        let seconds = Date().timeIntervalSince(started)
        return BaselineResult(name: "tcp-roundtrip-\(connections)", figure: Double(total.value) / seconds, unit: "ops/s")
    }

    private static func listeningSocket() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1024) == 0 else { throw BenchError("baseline listener: errno \(errno)") }
        return fd
    }

    private static func localPort(_ fd: Int32) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    private static func connectLoopback(_ port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 { close(fd); return -1 }
        return fd
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return false }
            offset += count
        }
        return true
    }

    private static func receiveExactly(_ fd: Int32, _ bytes: inout [UInt8], _ count: Int) -> Bool {
        var offset = 0
        while offset < count {
            let got = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + offset, count - offset, 0) }
            if got <= 0 { return false }
            offset += got
        }
        return true
    }
}

/// A thread-safe counter.
final class FailureCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ value: Int = 1) { lock.lock(); count += value; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
