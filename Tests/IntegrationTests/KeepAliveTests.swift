import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// The API node keeps pooled keep-alive connections to data nodes. A data node may close
/// them at any time (its idle timeout, a restart); the API node must not turn that into
/// errors for clients while the node is up.
@Suite("Pooled data-node connections")
struct KeepAliveTests {
    /// PUTs then GETs `count` objects all at once, so each loop pools many connections per data node.
    static func fillPools(_ cluster: Cluster, count: Int, size: Int) async throws -> [String: String] {
        var files: [String: String] = [:]
        for index in 0..<count { files["pooled/\(index)"] = try await cluster.randomFile("pooled-\(index)", size: size) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (key, file) in files {
                group.addTask {
                    let put = try await cluster.put(key, file: file)
                    #expect(put.status == 201, "\(put)")
                }
            }
            try await group.waitForAll()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for key in files.keys {
                group.addTask {
                    let get = try await cluster.get(key, to: "/dev/null")
                    #expect(get.status == 200, "\(get)")
                }
            }
            try await group.waitForAll()
        }
        return files
    }

    /// GETs every object one after the other; returns the failures.
    static func readBack(_ cluster: Cluster, _ files: [String: String]) async throws -> [String] {
        var failures: [String] = []
        for (key, file) in files.sorted(by: { $0.key < $1.key }) {
            let out = file + ".out"
            let get = try await cluster.get(key, to: out)
            if get.status != 200 || get.curlExit != 0 {
                failures.append("GET \(key): HTTP \(get.status) \(String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: out))) ?? Data(), as: UTF8.self).prefix(300))")
            } else if !(try await sameBytes(file, out, scratch: cluster.scratch.tmp)) {
                failures.append("GET \(key): wrong bytes")
            }
        }
        return failures
    }

    @Test("a data node restarted on its port serves its chunks again at once", arguments: testedEngines)
    func restartedDataNode(engine: IOEngineKind) async throws {
        try await withCluster(engine, "dnrestart", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let files = try await Self.fillPools(cluster, count: 16, size: 5 * 65536)
            let port = cluster.dataNodes[1].port
            let status = await cluster.dataNodes[1].stop(SIGKILL, withinSeconds: 5)
            #expect(status != nil, "data node 2 still running after SIGKILL")
            try await cluster.startDataNode(1, port: port)

            let failures = try await Self.readBack(cluster, files)
            #expect(failures.isEmpty, "\(failures.count) of \(files.count) GETs failed with every data node up:\n\(failures.joined(separator: "\n"))")
        }
    }

    /// Connects to `port` and waits, sending nothing, until the server closes the connection;
    /// returns whether it did (false: it was still open after `seconds`, a hang guard).
    static func serverClosesIdleConnection(port: UInt16, engine: IOEngineKind, seconds: Int) async throws -> Bool {
        let loop = try EventLoop.start(engine: engine, name: "idle-probe")
        defer { loop.shutdown() }
        let address = try SocketAddress(host: "127.0.0.1", port: port)
        return try await loop.run {
            let connection = try await TCPConnection.connect(to: address, on: loop)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
            defer { buffer.deallocate() }
            let closed: Bool
            do throws(IOError) {
                closed = try await connection.receive(into: buffer, timeout: .seconds(seconds)) == 0
            } catch {
                closed = error.kind == .connectionReset
                if !closed && error.kind != .timedOut {
                    await connection.close()
                    throw error
                }
            }
            await connection.close()
            return closed
        }
    }

    /// The data nodes run with a 1 s idle timeout, so the wait is seconds, not a minute. The
    /// API node's pool keeps connections for up to 20 s: the ones it holds have all been closed
    /// by the data nodes under it, and each request on one must be retried on a fresh one.
    @Test("after the data nodes' idle timeout closed the pooled connections, the next PUTs and GETs succeed",
          arguments: testedEngines)
    func idleConnections(engine: IOEngineKind) async throws {
        try await withCluster(engine, "idle", apiOptions: ["--chunk-size", "64KiB"], dataNodeOptions: ["--idle-timeout", "1"],
                              busy: false) { cluster in
            var files = try await Self.fillPools(cluster, count: 16, size: 5 * 65536)
            // A connection opened after the pooled ones went idle is closed by each data node
            // after its idle second: by then the pooled ones, idle longer, are closed too.
            for node in cluster.dataNodes {
                let closed = try await Self.serverClosesIdleConnection(port: node.port, engine: engine, seconds: 30)
                #expect(closed, "\(node.name) kept an idle connection open for 30 s despite --idle-timeout 1")
            }
            var failures: [String] = []
            for index in 0..<4 {
                let key = "after-idle/\(index)"
                files[key] = try await cluster.randomFile("after-idle-\(index)", size: 5 * 65536)
                let put = try await cluster.put(key, file: files[key]!)
                if put.status != 201 { failures.append("PUT \(key): \(put)") }
            }
            #expect(failures.isEmpty, "\(failures.count) of 4 PUTs after the idle timeout failed:\n\(failures.joined(separator: "\n"))")
            let readFailures = try await Self.readBack(cluster, files.filter { !failures.joined().contains($0.key) })
            #expect(readFailures.isEmpty, "\(readFailures.count) GETs failed:\n\(readFailures.joined(separator: "\n"))")
        }
    }
}
