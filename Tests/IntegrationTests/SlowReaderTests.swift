import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// A client that asks for a large object and never reads it must not hold the chunk buffers
/// everybody else needs (issue 17: 20 such connections took a loop's 64 buffers, and an
/// unrelated GET waited 28 s for the stalled sends to time out).
@Suite("Slow readers")
struct SlowReaderTests {
    /// Connects with a tiny receive buffer, sends a GET of `path`, and never reads.
    static func stalledGet(port: UInt16, path: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var peer = sockaddr_in()
        peer.sin_family = sa_family_t(AF_INET)
        peer.sin_port = port.bigEndian
        peer.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw StartFailure(description: "connect to :\(port): errno \(errno)")
        }
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        return fd
    }

    @Test("8 connections that GET 100 MiB and never read: they hold a few buffers each, and another client's GET is served at once",
          arguments: testedEngines)
    func stalledReaders(engine: IOEngineKind) async throws {
        // 4 MiB chunks, 16 buffers per loop: a whole window (8) per stalled GET would take
        // every buffer of both loops four times over.
        try await withCluster(engine, "slow-readers", apiOptions: ["--buffer-pool", "128MiB", "--replicas", "1"]) { cluster in
            let big = try await cluster.randomFile("slow-big", size: 100 << 20)
            let other = try await cluster.randomFile("slow-other", size: 8 << 20)
            #expect(try await cluster.put("big", file: big).status == 201)
            #expect(try await cluster.put("other", file: other).status == 201)
            let port = cluster.api.port
            var stalled: [Int32] = []
            defer { stalled.forEach { close($0) } }
            for _ in 0..<8 { stalled.append(try Self.stalledGet(port: port, path: "/object/big")) }
            try await Task.sleep(for: .seconds(2))
            let metrics = try await curl(["\(cluster.base)/metrics"], scratch: cluster.scratch.tmp).text
            let inUse = metrics.split(separator: "\n").filter { $0.hasPrefix("flare_api_buffers_in_use") }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
            #expect(inUse <= 8 * 3, "buffers held by 8 stalled GETs: \(inUse)\n\(metrics.prefix(1500))")
            // Well inside the 30 s the stalled sends have before they time out.
            let get = try await cluster.get("other", to: other + ".back", extra: ["--max-time", "15"])
            #expect(get.status == 200 && get.curlExit == 0, "\(get)")
            #expect(try await sameBytes(other, other + ".back", scratch: cluster.scratch.tmp))
        }
    }
}
