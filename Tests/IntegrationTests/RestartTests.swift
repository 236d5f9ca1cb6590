import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// The metadata file is the truth: what was committed survives a restart, what was not
/// never appears.
@Suite("API node restarts")
struct RestartTests {
    @Test("after SIGTERM and a restart on the same metadata file every object reads back", arguments: testedEngines)
    func gracefulRestart(engine: IOEngineKind) async throws {
        try await withCluster(engine, "restart", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let sizes = [0, 1, 65536, 3 * 65536 + 17, 1 << 20]
            var files: [String: String] = [:]
            for size in sizes {
                let key = "kept/\(size)"
                files[key] = try await cluster.randomFile("kept-\(size)", size: size)
                #expect(try await cluster.put(key, file: files[key]!).status == 201)
            }
            let replacement = try await cluster.randomFile("replacement", size: 2 * 65536 + 3)
            #expect(try await cluster.put("kept/1", file: replacement).status == 201)
            files["kept/1"] = replacement
            #expect(try await cluster.put("deleted", file: replacement).status == 201)
            #expect(try await cluster.delete("deleted").status == 204)

            let oldPort = cluster.api.port
            let status = await cluster.api.stop(SIGTERM)
            #expect(status == 0, "api exit status after SIGTERM: \(status.map(String.init) ?? "still running after 10 s")")
            try await cluster.startAPI()
            print("api restarted (\(engine)): port \(oldPort) → \(cluster.api.port)")

            for (key, file) in files.sorted(by: { $0.key < $1.key }) {
                let out = file + ".out"
                let get = try await cluster.get(key, to: out)
                #expect(get.status == 200, "\(key) after restart: \(get)")
                #expect(try await sameBytes(file, out, scratch: cluster.scratch.tmp), "\(key) differs after restart")
            }
            #expect(try await cluster.get("deleted").status == 404)
            #expect(try await cluster.listKeys() == files.keys.sorted())
        }
    }

    @Test("a second api on the same metadata file refuses to start; the first keeps serving", arguments: testedEngines)
    func oneOwnerPerMetadataFile(engine: IOEngineKind) async throws {
        try await withCluster(engine, "owner") { cluster in
            let file = try await cluster.randomFile("owned", size: 70_000)
            // Its start-up would queue the running api's upload intents for deletion.
            let second = try await CommandLineTests.run("api", ["--io", engine.rawValue, "--port", "0", "--metadata", cluster.metadataPath,
                                                                "--datanodes", cluster.dataNodes.map(\.address).joined(separator: ",")])
            #expect(second.status != nil && second.status != 0, "second api: exit \(second.status.map(String.init) ?? "none, still running")")
            #expect(second.stderr.contains("in use by another api process"), "stderr: \(second.stderr)")
            #expect(try await cluster.put("after-refusal", file: file).status == 201)
            let out = "\(cluster.scratch.tmp)/after-refusal.out"
            #expect(try await cluster.get("after-refusal", to: out).status == 200)
            #expect(try await sameBytes(file, out, scratch: cluster.scratch.tmp))
        }
    }

    @Test("every PUT answered 201 survives a kill -9 right after the answer", arguments: testedEngines)
    func acknowledgedIsDurable(engine: IOEngineKind) async throws {
        try await withCluster(engine, "durable", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let file = try await cluster.randomFile("small", size: 65536 + 10)
            let keys = (0..<20).map { "durable/\($0)" }
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for key in keys { group.addTask { try await cluster.put(key, file: file).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 201, count: keys.count))
            #expect(await cluster.api.stop(SIGKILL, withinSeconds: 5) != nil)
            try await cluster.startAPI()
            #expect(try await cluster.listKeys(prefix: "durable/") == keys.sorted())
            for key in keys {
                let out = file + ".out"
                #expect(try await cluster.get(key, to: out).status == 200, "\(key)")
                #expect(try await sameBytes(file, out, scratch: cluster.scratch.tmp), "\(key)")
            }
        }
    }

    @Test("SIGTERM during an upload: it is committed (201) or its chunks are cleaned up, never leaked", arguments: testedEngines)
    func terminateDuringUpload(engine: IOEngineKind) async throws {
        try await withCluster(engine, "sigterm") { cluster in
            let baseline = try await cluster.chunksPerNode()
            let big = try await cluster.randomFile("big", size: 50 << 20)
            let upload = try CurlCall(["-T", big, "--limit-rate", "10M", cluster.url("inflight")], scratch: cluster.scratch.tmp)
            let landed = try await cluster.poll(seconds: 10) {
                try await cluster.chunksPerNode().reduce(0) { $0 + $1.count } >= 3
            }
            #expect(landed, "no chunks of the upload reached the data nodes within 10 s")
            // A graceful stop may finish the upload or abandon it; it must not take forever.
            let status = await cluster.api.stop(SIGTERM, withinSeconds: 15)
            #expect(status == 0, "api exit after SIGTERM: \(status.map(String.init) ?? "still running after 15 s")")
            if status == nil { await cluster.api.stop(SIGKILL, withinSeconds: 10) }
            let result = await upload.wait()

            try await cluster.startAPI()
            let get = try await cluster.get("inflight", to: "/dev/null")
            if result.status == 201 {
                #expect(get.status == 200, "answered 201 before the stop but gone after it: \(get)")
            } else {
                #expect(get.status == 404, "not answered 201 but visible after the restart: \(get)")
                let cleaned = try await cluster.poll(seconds: 5) { try await cluster.chunksPerNode() == baseline }
                let left = try await cluster.chunksPerNode().reduce(0) { $0 + $1.count }
                #expect(cleaned, "\(left) chunk(s) of the upload cut off by SIGTERM are left on the data nodes 5 s after the restart (upload: \(result))")
            }
        }
    }

    @Test("kill -9 during large uploads: after a restart none of them is visible", arguments: testedEngines)
    func crashDuringUploads(engine: IOEngineKind) async throws {
        try await withCluster(engine, "crash") { cluster in
            let before = try await cluster.randomFile("before", size: 5 << 20)
            #expect(try await cluster.put("committed", file: before).status == 201)
            let baseline = try await cluster.chunksPerNode().reduce(0) { $0 + $1.count }

            let big = try await cluster.randomFile("big", size: 50 << 20)
            let keys = (0..<3).map { "inflight/\($0)" }
            // 10 MB/s each: 50 MiB takes ~5 s, so they are mid-flight when the api dies.
            let uploads = try keys.map { key in
                try CurlCall(["-T", big, "--limit-rate", "10M", cluster.url(key)], scratch: cluster.scratch.tmp, bodyTo: "/dev/null")
            }
            // Wait (bounded) until chunks of the uploads have landed on the data nodes.
            let landed = try await cluster.poll(seconds: 10) {
                try await cluster.chunksPerNode().reduce(0) { $0 + $1.count } >= baseline + 3
            }
            #expect(landed, "no chunks of the uploads reached the data nodes within 10 s")
            let killed = await cluster.api.stop(SIGKILL, withinSeconds: 5)
            #expect(killed != nil, "api still running 5 s after SIGKILL")
            for (key, upload) in zip(keys, uploads) {
                let result = await upload.wait()
                #expect(result.status != 201, "\(key) finished before the crash, the test did not crash mid-flight: \(result)")
            }
            let orphans = try await cluster.chunksPerNode().reduce(0) { $0 + $1.count } - baseline

            try await cluster.startAPI()
            for key in keys {
                let get = try await cluster.get(key)
                #expect(get.status == 404 && get.isJSON, "\(key) after the crash: \(get)")
            }
            #expect(try await cluster.listKeys() == ["committed"])
            let out = before + ".out"
            #expect(try await cluster.get("committed", to: out).status == 200)
            #expect(try await sameBytes(before, out, scratch: cluster.scratch.tmp))
            // Their chunks were recorded as intents before they were sent: the restarted api
            // queues and deletes them (bounded wait for the deletion worker).
            let cleaned = try await cluster.poll(seconds: 15) {
                try await cluster.chunksPerNode().reduce(0) { $0 + $1.count } == baseline
            }
            #expect(cleaned, "\(orphans) chunk(s) of the unfinished uploads were not deleted after the restart")
        }
    }
}
