import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Runs `executable` with `environment` added, bounded; what it printed and how it exited.
func runTool(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:], unset: [String] = [],
             scratch: String, seconds: Double = 180) async throws -> AWSRun {
    var environment = ProcessInfo.processInfo.environment
    environment.merge(extra) { $1 }
    for name in unset { environment[name] = nil }
    let name = UUID().uuidString
    let outPath = "\(scratch)/tool-\(name).out", errPath = "\(scratch)/tool-\(name).err"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    defer { unlink(outPath); unlink(errPath) }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    let child = try ChildProcess(executable, arguments, stdout: out, stderr: err, environment: environment)
    try out.close()
    try err.close()
    defer { child.killNow() }
    let status = await child.exitStatus(within: seconds)
    return AWSRun(status: status, stdout: readText(outPath), stderr: readText(errPath))
}

/// A small directory tree of awkward names and sizes (0, 1, a chunk and one byte, 12 MiB for
/// the tools' multipart), for the sync tools.
func makeTree(_ root: String, _ cluster: Cluster) async throws -> [String: String] {
    let files = ["empty": 0, "one byte": 1, "sub/chunk+1": 65537, "sub/deeper/ünïcode & co": 3000, "big": 12 << 20]
    var made: [String: String] = [:]
    for (relative, size) in files {
        let path = "\(root)/\(relative)"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try await makeRandomFile(path, size: size)
        made[relative] = path
    }
    return made
}

/// s3cmd and rclone, as Debian ships them, unchanged against Flare's S3 API.
@Suite("S3 API with s3cmd and rclone")
struct S3ToolsTests {
    @Test("s3cmd: mb, put (whole, multipart, from stdin), get byte for byte, ls, sync of a tree, del, rb", arguments: testedEngines)
    func s3cmd(engine: IOEngineKind) async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/s3cmd") else {
            Issue.record("s3cmd is not installed (make deps installs it)")
            return
        }
        try await S3Tests.withS3Cluster(engine, "s3cmd") { cluster, aws in
            let tmp = cluster.scratch.tmp
            let host = String(aws.endpoint.dropFirst("http://".count))
            let config = "\(tmp)/s3cfg"
            try """
            [default]
            access_key = \(aws.accessKey)
            secret_key = \(aws.secretKey)
            host_base = \(host)
            host_bucket = \(host)
            use_https = False
            signature_v2 = False
            bucket_location = us-east-1
            """.write(toFile: config, atomically: true, encoding: .utf8)
            func s3cmd(_ arguments: [String]) async throws -> AWSRun {
                try await runTool("/usr/bin/s3cmd", ["-c", config, "--multipart-chunk-size-mb=5", "--no-progress"] + arguments, scratch: tmp)
            }
            #expect(try await s3cmd(["mb", "s3://scmd"]).status == 0)
            let tree = try await makeTree("\(cluster.scratch.files)/scmd-tree", cluster)
            let put = try await s3cmd(["put", tree["big"]!, "s3://scmd/big"])
            #expect(put.status == 0, "multipart put: \(put)")
            #expect(try await s3cmd(["get", "s3://scmd/big", tree["big"]! + ".back"]).status == 0)
            #expect(try await sameBytes(tree["big"]!, tree["big"]! + ".back", scratch: tmp))
            // From stdin: always multipart for s3cmd.
            let piped = try await runTool("/bin/sh", ["-c", "/usr/bin/s3cmd -c '\(config)' --multipart-chunk-size-mb=5 --no-progress put - s3://scmd/piped < '\(tree["sub/chunk+1"]!)'"], scratch: tmp)
            #expect(piped.status == 0, "stdin put: \(piped)")
            #expect(try await s3cmd(["get", "s3://scmd/piped", tree["sub/chunk+1"]! + ".piped"]).status == 0)
            #expect(try await sameBytes(tree["sub/chunk+1"]!, tree["sub/chunk+1"]! + ".piped", scratch: tmp))
            let sync = try await s3cmd(["sync", "\(cluster.scratch.files)/scmd-tree/", "s3://scmd/tree/"])
            #expect(sync.status == 0, "sync: \(sync)")
            let listing = try await s3cmd(["ls", "--recursive", "s3://scmd/tree/"])
            #expect(tree.keys.allSatisfy { listing.stdout.contains("tree/\($0)") }, "ls: \(listing)")
            let back = "\(cluster.scratch.files)/scmd-back"
            #expect(try await s3cmd(["sync", "s3://scmd/tree/", back + "/"]).status == 0)
            for (relative, path) in tree {
                #expect(try await sameBytes(path, "\(back)/\(relative)", scratch: tmp), "\(relative) through s3cmd sync")
            }
            #expect(try await s3cmd(["del", "--recursive", "--force", "s3://scmd/"]).status == 0)
            #expect(try await s3cmd(["rb", "s3://scmd"]).status == 0)
        }
    }

    @Test("rclone: mkdir, copy of a tree (multipart for the large file), lsl, check (MD5s), sync after a change, purge", arguments: testedEngines)
    func rclone(engine: IOEngineKind) async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/rclone") else {
            Issue.record("rclone is not installed (make deps installs it)")
            return
        }
        try await S3Tests.withS3Cluster(engine, "rclone") { cluster, aws in
            let tmp = cluster.scratch.tmp
            let environment = ["RCLONE_CONFIG_FL_TYPE": "s3", "RCLONE_CONFIG_FL_PROVIDER": "Other",
                               "RCLONE_CONFIG_FL_ACCESS_KEY_ID": aws.accessKey, "RCLONE_CONFIG_FL_SECRET_ACCESS_KEY": aws.secretKey,
                               "RCLONE_CONFIG_FL_ENDPOINT": aws.endpoint, "RCLONE_CONFIG_FL_REGION": "us-east-1",
                               "RCLONE_CONFIG": "\(tmp)/rclone.conf"]
            func rclone(_ arguments: [String]) async throws -> AWSRun {
                try await runTool("/usr/bin/rclone", arguments + ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", "--retries", "1",
                                                                  "--low-level-retries", "1"], environment: environment,
                                  // rclone's AWS SDK cannot load a CA bundle into its own HTTP transport, even for http://.
                                  unset: ["AWS_CA_BUNDLE"], scratch: tmp)
            }
            let root = "\(cluster.scratch.files)/rclone-tree"
            let tree = try await makeTree(root, cluster)
            #expect(try await rclone(["mkdir", "fl:rclonebkt"]).status == 0)
            let copy = try await rclone(["copy", root, "fl:rclonebkt/tree"])
            #expect(copy.status == 0, "copy: \(copy)")
            let lsl = try await rclone(["lsl", "fl:rclonebkt"])
            #expect(tree.keys.allSatisfy { lsl.stdout.contains("tree/\($0)") }, "lsl: \(lsl)")
            let check = try await rclone(["check", root, "fl:rclonebkt/tree"])
            #expect(check.status == 0, "check (sizes and MD5s): \(check)")
            try await makeRandomFile(tree["one byte"]!, size: 2)
            #expect(try await rclone(["sync", root, "fl:rclonebkt/tree"]).status == 0)
            let back = "\(cluster.scratch.files)/rclone-back"
            #expect(try await rclone(["copy", "fl:rclonebkt/tree", back]).status == 0)
            for (relative, path) in tree {
                #expect(try await sameBytes(path, "\(back)/\(relative)", scratch: tmp), "\(relative) through rclone")
            }
            #expect(try await rclone(["purge", "fl:rclonebkt"]).status == 0)
            let gone = try await rclone(["lsd", "fl:"])
            #expect(!gone.stdout.contains(" rclonebkt"), "purge left the bucket: \(gone)")
        }
    }
}
