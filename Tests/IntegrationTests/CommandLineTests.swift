import FlareTestSupport
import Foundation
import Glibc
import Testing

/// The executables' flags. No cluster and no I/O engine involved: these run once.
@Suite("Command lines")
struct CommandLineTests {
    /// Runs a binary with `arguments`, bounded: a process still running after 10 s is killed
    /// and reported (it should have refused to start).
    static func run(_ name: String, _ arguments: [String]) async throws -> (status: Int32?, stdout: String, stderr: String) {
        let scratch = try Scratch("cli")
        defer { scratch.remove() }
        let outPath = "\(scratch.tmp)/out", errPath = "\(scratch.tmp)/err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let child = try ChildProcess(try builtExecutable(name), arguments, stdout: out, stderr: err)
        try out.close()
        try err.close()
        defer { child.killNow() }
        let status = await child.exitStatus(within: 10)
        return (status, readText(outPath), readText(errPath))
    }

    static let badDataNodes: [(value: String, why: String)] = [
        ("", "empty"),
        ("127.0.0.1", "no port"),
        ("example.com:9001", "a host name other than localhost"),
        ("127.0.0.1:0", "port 0"),
        ("127.0.0.1:9001,,127.0.0.1:9002", "empty entry"),
        ("127.0.0.1:port", "port not a number"),
        ("127.0.0.1:70000", "port out of range"),
        ("127.0.0.1:9001,127.0.0.1:9001", "the same node twice"),
        ("127.0.0.1:9001,", "trailing comma"),
    ]

    @Test("api refuses to start without --datanodes or with a malformed list")
    func badDataNodeLists() async throws {
        let missing = try await Self.run("api", ["--port", "0", "--metadata", "/tmp/flare-cli-never/meta.sqlite"])
        #expect(missing.status != nil && missing.status != 0, "api without --datanodes: exit \(missing.status.map(String.init) ?? "none, still running")")
        #expect(missing.stderr.contains("--datanodes"), "stderr: \(missing.stderr)")
        for (value, why) in Self.badDataNodes {
            let result = try await Self.run("api", ["--datanodes", value, "--port", "0", "--replicas", "1",
                                                    "--metadata", "/tmp/flare-cli-never/meta.sqlite"])
            #expect(result.status != nil && result.status != 0,
                    "--datanodes '\(value)' (\(why)): exit \(result.status.map(String.init) ?? "none, still running after 10 s")")
            #expect(result.stderr.contains("datanodes"), "--datanodes '\(value)' (\(why)): stderr: \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/flare-cli-never"), "a refused start created the metadata directory")
    }

    @Test("api refuses other malformed flags", arguments: [
        ["--chunk-size", "100"], ["--chunk-size", "3KiB"], ["--window", "0"], ["--io", "kqueue"],
        ["--threads", "0"], ["--deletion-grace", "-1"], ["--buffer-pool", "1MiB"], ["--log-level", "loud"],
        ["--idle-timeout", "0"], ["--head-timeout", "3601"], ["--body-timeout", "soon"],
        ["--replicas", "0"], ["--replicas", "2"], ["--node-down-after", "0"],
        ["--gc-grace", "-1"], ["--gc-grace", "soon"], ["--gc-interval", "0"], ["--gc-interval", "700000"],
        ["--cluster-secret-file", "/tmp/flare-cli-never/secret"], ["--admin-token-file", "/tmp/flare-cli-never/token"],
        ["--native-auth", "/tmp/flare-cli-never/tokens"], ["--admin-token-file", "/dev/null"],
        ["--multipart-expiry", "-1"], ["--multipart-expiry", "weekly"], ["--max-object-size", "0"], ["--max-object-size", "huge"],
    ])
    func badFlags(flags: [String]) async throws {
        // One data node and one replica: valid, so each refusal is the flag's own
        // (`--replicas 2` then names more copies than nodes).
        let result = try await Self.run("api", ["--datanodes", "127.0.0.1:9001", "--port", "0", "--replicas", "1",
                                                "--metadata", "/tmp/flare-cli-never/meta.sqlite"] + flags)
        #expect(result.status != nil && result.status != 0, "\(flags): exit \(result.status.map(String.init) ?? "none")")
        #expect(!result.stderr.isEmpty, "\(flags): nothing on stderr")
    }

    @Test("datanode refuses malformed flags, naming the flag", arguments: [
        ["--io", "kqueue"], ["--threads", "300"], ["--log-level", "loud"], ["--buffer-pool", "1MiB"],
        ["--idle-timeout", "0"], ["--idle-timeout", "-5"], ["--head-timeout", "0"], ["--body-timeout", "99999"],
        ["--scrub-interval=-1"], ["--scrub-interval", "nan"], ["--scrub-interval", "99999999"], ["--scrub-interval", "weekly"],
        ["--scrub-bandwidth", "fast"], ["--scrub-bandwidth", "16MiB/s"],
        ["--max-clock-skew", "0"], ["--max-clock-skew", "3601"], ["--metrics-auth"],
        ["--cluster-secret-file", "/tmp/flare-cli-never/secret"], ["--cluster-secret-file", "/dev/null"],
        ["--insecure-no-auth", "--cluster-secret-file", "/tmp/flare-cli-never/secret"],
    ])
    func dataNodeBadFlags(flags: [String]) async throws {
        let result = try await Self.run("datanode", ["--port", "0", "--data-dir", "/tmp/flare-cli-never/datanode"] + flags)
        #expect(result.status != nil && result.status != 0, "\(flags): exit \(result.status.map(String.init) ?? "none")")
        let flag = String(flags[0].prefix { $0 != "=" })
        #expect(result.stderr.contains(flag), "\(flags): stderr: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/flare-cli-never"), "a refused start created the data directory")
    }

    @Test("api --help exits 0 and names every flag")
    func apiHelp() async throws {
        let result = try await Self.run("api", ["--help"])
        #expect(result.status == 0)
        for flag in ["--host", "--port", "--datanodes", "--metadata", "--chunk-size", "--window", "--buffer-pool", "--io",
                     "--threads", "--deletion-grace", "--log-level", "--idle-timeout", "--head-timeout", "--body-timeout",
                     "--replicas", "--node-down-after", "--datanode-timeout", "--repair-after", "--repair-concurrency",
                     "--gc-grace", "--gc-interval", "--cluster-secret-file", "--admin-token-file", "--native-auth", "SIGHUP",
                     "--multipart-expiry", "--max-object-size", "--s3-port", "--s3-credentials"] {
            #expect(result.stdout.contains(flag), "api --help does not mention \(flag)")
        }
    }

    @Test("datanode --help exits 0 and names every flag")
    func dataNodeHelp() async throws {
        let result = try await Self.run("datanode", ["--help"])
        #expect(result.status == 0)
        for flag in ["--host", "--port", "--data-dir", "--io", "--threads", "--chunk-size-max", "--buffer-pool", "--log-level",
                     "--idle-timeout", "--head-timeout", "--body-timeout", "--scrub-interval", "--scrub-bandwidth", "/chunks/corrupt",
                     "--cluster-secret-file", "--max-clock-skew", "--metrics-auth", "--insecure-no-auth", "loopback", "SIGHUP"] {
            #expect(result.stdout.contains(flag), "datanode --help does not mention \(flag)")
        }
    }
}
