import Foundation
import Glibc

/// A real etcd cluster (Debian's etcd-server) of `size` members on free loopback ports, with
/// its data in a temporary directory: started by the test, stopped by it (every member by its
/// PID), also when the test fails.
public final class EtcdCluster: @unchecked Sendable {
    public static let binary = "/usr/bin/etcd"

    public struct Member: Sendable {
        public let name: String
        public let clientPort: UInt16
        public let peerPort: UInt16
        public let dataDirectory: String
        public let logPath: String
        public var address: String { "127.0.0.1:\(clientPort)" }
    }

    public let members: [Member]
    public let directory: String
    private let token = UUID().uuidString
    private var processes: [Int: ChildProcess] = [:]

    /// `host:port,…` of every member, as `--metadata etcd://…` takes it.
    public var endpoints: String { members.map(\.address).joined(separator: ",") }

    /// Whether etcd is here; in CI (make deps installs etcd-server) a missing one is a failure.
    public static func available() throws -> Bool {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            if ProcessInfo.processInfo.environment["CI"] != nil {
                throw StartFailure(description: "etcd is not installed (make deps installs etcd-server)")
            }
            print("skipped: etcd is not installed here (make deps installs etcd-server)")
            return false
        }
        return true
    }

    /// Starts the members together (a member waits for a quorum before it is healthy).
    public init(size: Int = 3, in directory: String) async throws {
        self.directory = directory
        var members: [Member] = []
        for index in 1...size {
            members.append(Member(name: "m\(index)", clientPort: try freeLoopbackPort(), peerPort: try freeLoopbackPort(),
                                  dataDirectory: "\(directory)/etcd-m\(index)", logPath: "\(directory)/etcd-m\(index).log"))
        }
        self.members = members
        for index in members.indices { try start(index, state: "new") }
        for index in members.indices { try await waitHealthy(index) }
    }

    deinit { stopAll() }

    /// Starts member `index` again after ``kill(_:)`` (its data directory kept).
    public func restart(_ index: Int) async throws {
        try start(index, state: "existing")
        try await waitHealthy(index)
    }

    /// Starts every member that is not running, together (one alone waits for a quorum).
    public func restartStopped() async throws {
        let stopped = members.indices.filter { processes[$0] == nil }
        for index in stopped { try start(index, state: "existing") }
        for index in stopped { try await waitHealthy(index) }
    }

    /// SIGKILL of member `index`, waited for.
    public func kill(_ index: Int) async {
        guard let process = processes.removeValue(forKey: index) else { return }
        process.killNow()
        _ = await process.exitStatus(within: 10)
    }

    /// SIGSTOP / SIGCONT of member `index` (a hung member).
    public func pause(_ index: Int) { processes[index]?.send(SIGSTOP) }
    public func resume(_ index: Int) { processes[index]?.send(SIGCONT) }

    public func stopAll() {
        for process in processes.values { process.send(SIGCONT); process.killNow() }
        processes.removeAll()
    }

    /// The index of the member that leads now, as the members say.
    public func leader() async throws -> Int? {
        for index in members.indices where processes[index] != nil {
            let status = try await curl(["-s", "--max-time", "2", "-X", "POST", "-d", "{}", "http://\(members[index].address)/v3/maintenance/status"])
            guard let json = status.json, let header = json["header"] as? [String: Any],
                  let memberID = header["member_id"] as? String, let leader = json["leader"] as? String else { continue }
            if memberID == leader { return index }
        }
        return nil
    }

    /// The end of member `index`'s log.
    public func log(_ index: Int) -> String {
        String((try? String(contentsOfFile: members[index].logPath, encoding: .utf8))?.suffix(3000) ?? "")
    }

    private func start(_ index: Int, state: String) throws {
        let member = members[index]
        let cluster = members.map { "\($0.name)=http://127.0.0.1:\($0.peerPort)" }.joined(separator: ",")
        if !FileManager.default.fileExists(atPath: member.logPath) { _ = FileManager.default.createFile(atPath: member.logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: member.logPath))
        try log.seekToEnd()
        let process = try ChildProcess(Self.binary, [
            "--name", member.name, "--data-dir", member.dataDirectory,
            "--listen-client-urls", "http://127.0.0.1:\(member.clientPort)", "--advertise-client-urls", "http://127.0.0.1:\(member.clientPort)",
            "--listen-peer-urls", "http://127.0.0.1:\(member.peerPort)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(member.peerPort)",
            "--initial-cluster", cluster, "--initial-cluster-state", state, "--initial-cluster-token", token,
            "--logger", "zap", "--log-level", "warn",
        ], stdout: log, stderr: log)
        try log.close()
        processes[index] = process
    }

    private func waitHealthy(_ index: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard let process = processes[index], !process.hasExited else {
                throw StartFailure(description: "etcd member \(members[index].name) exited:\n\(log(index))")
            }
            let health = try await curl(["-s", "--max-time", "2", "http://\(members[index].address)/health"])
            if health.status == 200 && health.text.contains("true") { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw StartFailure(description: "etcd member \(members[index].name) not healthy within 60 s:\n\(log(index))")
    }
}

/// A loopback port that was free a moment ago (bound to 0, read, closed): for programs like
/// etcd that must be told their ports, and each other's, before they start.
public func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw StartFailure(description: "socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw StartFailure(description: "bind to a free port: errno \(errno)") }
    return UInt16(bigEndian: address.sin_port)
}
