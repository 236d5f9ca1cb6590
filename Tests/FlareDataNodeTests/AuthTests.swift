import FlareAuth
import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// One route of the data node as the api uses it, for the auth tests: a request that needs
/// the node to hold chunk `stored` (and must leave `fresh` unstored when refused).
struct AuthRoute: CustomStringConvertible, Sendable {
    let method: String
    /// The target, given the chunk stored before and a fresh id.
    let target: @Sendable (_ stored: ChunkID, _ fresh: ChunkID) -> String
    /// The status the signed request answers.
    let success: Int
    var uploads = false

    var description: String { "\(method) \(target(ChunkID(high: 0, low: 0), ChunkID(high: 0, low: 1)).prefix(13))" }

    static let all: [AuthRoute] = [
        AuthRoute(method: "PUT", target: { "/chunk/\($1)" }, success: 201, uploads: true),
        AuthRoute(method: "GET", target: { stored, _ in "/chunk/\(stored)" }, success: 200),
        AuthRoute(method: "HEAD", target: { stored, _ in "/chunk/\(stored)" }, success: 200),
        AuthRoute(method: "DELETE", target: { stored, _ in "/chunk/\(stored)" }, success: 204),
        AuthRoute(method: "GET", target: { _, _ in "/chunks" }, success: 200),
        AuthRoute(method: "GET", target: { _, _ in "/chunks?older-than=0" }, success: 200),
        AuthRoute(method: "GET", target: { _, _ in "/chunks/corrupt" }, success: 200),
    ]
}

/// Who may use a data node started with a cluster secret: every route refuses unsigned,
/// mis-signed, replayed and stale requests before it reads a byte of the body, and stores or
/// deletes nothing for them; signed right, every route works. Real processes, both engines.
@Suite("Data node: only signed requests get in", .limited(by: dataNodeSlots), .timeLimit(.minutes(5)))
struct AuthTests {
    /// Whether the chunk's file is on the node's disk.
    static func onDisk(_ node: DataNode, _ id: ChunkID) -> Bool {
        FileManager.default.fileExists(atPath: "\(node.dataDirectory)/chunks/\(id.shard)/\(id)")
    }

    /// A refusal: the status, a JSON error, the scheme to use on a 401, the connection closed.
    static func expectRefused(_ result: CurlResult, _ status: Int, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == status, "\(context): \(result)", sourceLocation: sourceLocation)
        if status == 401 {
            #expect(result.headers["www-authenticate"] == RequestSignature.scheme, "\(context): \(result.headers)", sourceLocation: sourceLocation)
        }
        #expect(result.headers["connection"] == "close", "\(context): the connection stays open: \(result.headers)", sourceLocation: sourceLocation)
    }

    @Test("every route: no signature, a wrong secret, a time an hour off either way: 401/403, nothing stored or deleted; signed right: it works, once (sent again: 403)",
          arguments: testedEngines)
    func everyRoute(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "auth-routes") { node, directory in
            let payload = try Payload.random(70_000, in: directory.files)
            let stranger = try TestCredentials.signer(secrets: TestCredentials.randomHex(bytes: 32))
            let now = wallClockNanoseconds() / 1_000_000_000
            for route in AuthRoute.all {
                let stored = ChunkID.random(), fresh = ChunkID.random()
                #expect(try await node.put(stored, payload).status == 201, "\(route): setting up")
                let url = node.base + route.target(stored, fresh)
                let headers = route.uploads ? [("X-Flare-Checksum", CRC32C.headerValue(payload.crc))] : []
                let upload = route.uploads ? payload.path : nil
                func send(_ signer: RequestSigner?, time: Int64? = nil) async throws -> CurlResult {
                    try await curl(signedCurlArguments(route.method, url, signer: signer, headers: headers, upload: upload, time: time))
                }
                Self.expectRefused(try await send(nil), 401, "\(route) unsigned")
                Self.expectRefused(try await send(stranger), 401, "\(route) signed with another secret")
                Self.expectRefused(try await send(node.signer, time: now - 3600), 403, "\(route) signed an hour ago")
                Self.expectRefused(try await send(node.signer, time: now + 3600), 403, "\(route) signed an hour ahead")
                #expect(Self.onDisk(node, stored), "\(route): a refused request deleted the chunk")
                #expect(!Self.onDisk(node, fresh), "\(route): a refused request stored a chunk")
                #expect(try await node.get(stored).status == 200, "\(route): the stored chunk no longer reads back")
                let signedArguments = signedCurlArguments(route.method, url, signer: node.signer, headers: headers, upload: upload)
                let signed = try await curl(signedArguments)
                #expect(signed.status == route.success, "\(route) signed: \(signed)")
                Self.expectRefused(try await curl(signedArguments), 403, "\(route) sent again (a replay)")
            }
            #expect(chunkFiles(directory.data).count == AuthRoute.all.count, "\(chunkFiles(directory.data))")
            #expect(entries("\(directory.data)/tmp").isEmpty)
            let log = node.currentLog()
            #expect(log.contains("refused PUT /chunk/") && log.contains("401 unsigned request"), "no log line for the refusals")
            #expect(try await node.metric("flare_datanode_auth_refused_total", labels: "reason=\"missing\"") == Double(AuthRoute.all.count))
            #expect(try await node.metric("flare_datanode_auth_refused_total", labels: "reason=\"stale\"") == Double(2 * AuthRoute.all.count))
            #expect(try await node.metric("flare_datanode_auth_refused_total", labels: "reason=\"replayed\"") == Double(AuthRoute.all.count))
            // Open to anyone: the api's probe, a load balancer's check, Prometheus.
            #expect(try await curl([node.base + "/health"]).status == 200)
            #expect(try await curl([node.base + "/metrics"]).status == 200)
        }
    }

    @Test("a replayed PUT does not store again, a replayed DELETE does not delete again (403)", arguments: testedEngines)
    func replays(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "auth-replay") { node, directory in
            let payload = try Payload.random(9000, in: directory.files)
            let id = ChunkID.random()
            let put = signedCurlArguments("PUT", node.url(id), signer: node.signer,
                                          headers: [("X-Flare-Checksum", CRC32C.headerValue(payload.crc))], upload: payload.path)
            #expect(try await curl(put).status == 201)
            let delete = signedCurlArguments("DELETE", node.url(id), signer: node.signer)
            #expect(try await curl(delete).status == 204)
            Self.expectRefused(try await curl(put), 403, "the PUT sent again")
            #expect(!Self.onDisk(node, id), "a replayed PUT stored the chunk again")
            #expect(try await node.put(id, payload).status == 201, "a PUT signed anew")
            Self.expectRefused(try await curl(delete), 403, "the DELETE sent again")
            let kept = try await node.get(id)
            #expect(Self.onDisk(node, id) && kept.status == 200, "a replayed DELETE deleted the chunk: \(kept)")
            #expect(try await node.metric("flare_datanode_auth_refused_total", labels: "reason=\"replayed\"") == 2)
        }
    }

    @Test("a body swapped after signing fails its checksum (422), a checksum header changed to match fails the signature (401): nothing stored",
          arguments: testedEngines)
    func swappedBody(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "auth-swap") { node, directory in
            let signedFor = try Payload.random(50_000, in: directory.files, name: "signed")
            let swapped = try Payload.random(50_000, in: directory.files, name: "swapped")
            let id = ChunkID.random()
            let arguments = signedCurlArguments("PUT", node.url(id), signer: node.signer,
                                                headers: [("X-Flare-Checksum", CRC32C.headerValue(signedFor.crc))], upload: signedFor.path)
            // Same length, same signed headers, other bytes.
            let bodySwapped = arguments.map { $0 == signedFor.path ? swapped.path : $0 }
            let mismatch = try await curl(bodySwapped)
            #expect(mismatch.status == 422, "\(mismatch)")
            // The checksum made to match the new bytes: the signature no longer does.
            let headerSwapped = bodySwapped.map { $0 == "X-Flare-Checksum: \(CRC32C.headerValue(signedFor.crc))" ? "X-Flare-Checksum: \(CRC32C.headerValue(swapped.crc))" : $0 }
            Self.expectRefused(try await curl(headerSwapped), 401, "checksum header changed after signing")
            #expect(!Self.onDisk(node, id) && entries("\(directory.data)/tmp").isEmpty)
            #expect(try await node.get(id).status == 404)
        }
    }

    @Test("an unsigned 4 MiB upload is refused before its body: no 100 Continue, no body byte read, the connection closed; without Expect, a 401 every time (never a reset)",
          arguments: testedEngines)
    func refusedBeforeTheBody(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "auth-body") { node, directory in
            let payload = try Payload.random(4 << 20, in: directory.files)
            let id = ChunkID.random()
            // curl asks for 100 Continue before a body this large, and sends it only when told to.
            let refused = try await curl(["-v"] + signedCurlArguments("PUT", node.url(id), signer: nil,
                                                                      headers: [("X-Flare-Checksum", CRC32C.headerValue(payload.crc))],
                                                                      upload: payload.path))
            Self.expectRefused(refused, 401, "an unsigned upload")
            #expect(refused.curlError.contains("Expect: 100-continue"), "curl did not wait to be asked: \(refused.curlError.suffix(800))")
            #expect(!refused.curlError.contains("100 Continue"), "the node asked for the body: \(refused.curlError.suffix(800))")
            #expect(node.currentLog().contains("PUT /chunk/\(id) 401 in=0 "), "the node read body bytes:\n\(node.currentLog().suffix(1500))")
            // Without Expect (as the api sends) the body is on its way: the node answers, then
            // drains what is sent until the close, so the client hears the 401, not a reset.
            for attempt in 1...5 {
                let unasked = try await curl(["-H", "Expect:"] + signedCurlArguments("PUT", node.url(id), signer: nil,
                                                                                   headers: [("X-Flare-Checksum", CRC32C.headerValue(payload.crc))],
                                                                                   upload: payload.path))
                Self.expectRefused(unasked, 401, "an unsigned upload without Expect, attempt \(attempt)")
            }
            #expect(!Self.onDisk(node, id) && entries("\(directory.data)/tmp").isEmpty)
        }
    }

    @Test("--metrics-auth: /metrics signed like the rest; /health stays open", arguments: testedEngines)
    func metricsAuth(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "auth-metrics", arguments: ["--metrics-auth"]) { node, _ in
            Self.expectRefused(try await curl([node.base + "/metrics"]), 401, "unsigned /metrics")
            let signed = try await node.get(path: "/metrics")
            #expect(signed.status == 200 && signed.text.contains("flare_datanode_auth_refused_total"), "\(signed)")
            #expect(try await curl([node.base + "/health"]).status == 200)
            #expect(node.currentLog().contains("/health open"), "the log does not say what is open")
        }
    }

    @Test("secret rotation without a restart: old → old+new → new (SIGHUP each time); a file that fails to parse keeps the secrets in use",
          arguments: testedEngines)
    func rotationBySIGHUP(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "auth-rotate") { node, _ in
            let credentials = try #require(node.credentials)
            let oldSecret = try #require(readText(credentials.secretFile).split(separator: "\n").last.map(String.init))
            let newSecret = TestCredentials.randomHex(bytes: 32)
            let old = node.signer, new = try TestCredentials.signer(secrets: newSecret)
            func works(_ signer: RequestSigner?) async throws -> Bool { try await node.request("GET", node.base + "/chunks", signer: signer).status == 200 }
            func reload(_ text: String, expecting line: String) async throws {
                try TestCredentials.writePrivate(text, to: credentials.secretFile)
                node.signal(SIGHUP)
                let seen = try await node.eventually(within: 10) { node.currentLog().components(separatedBy: line).count > 1 }
                #expect(seen, "no \(line.debugDescription) after SIGHUP:\n\(node.currentLog().suffix(1500))")
            }
            let newID = try ClusterSecret(Substring(newSecret)).keyID
            var (oldWorks, newWorks) = (try await works(old), try await works(new))
            #expect(oldWorks && !newWorks, "before the rotation")
            try await reload("\(newSecret)\n\(oldSecret)\n", expecting: "cluster secrets now: key ids \(newID), ")
            (oldWorks, newWorks) = (try await works(old), try await works(new))
            #expect(oldWorks && newWorks, "during the rotation both secrets are accepted")
            try await reload("\(newSecret)\n", expecting: "cluster secrets now: key ids \(newID) (")
            (oldWorks, newWorks) = (try await works(old), try await works(new))
            #expect(newWorks && !oldWorks, "after the rotation only the new secret is accepted")
            try await reload("too-short\n", expecting: "keeping the secrets in use")
            #expect(try await works(new), "a broken file replaced the secrets")
        }
    }

    @Test("two --cluster-secret-file flags: both files' secrets verify", arguments: testedEngines)
    func twoFiles(engine: IOEngineKind) async throws {
        let directory = try TestDirectory("auth-two-\(engine)")
        defer { directory.remove() }
        let second = TestCredentials.randomHex(bytes: 32)
        try TestCredentials.writePrivate(second + "\n", to: "\(directory.path)/second-secret")
        let node = try DataNode(engine: engine, directory: directory, arguments: ["--cluster-secret-file", "\(directory.path)/second-secret"])
        defer { node.kill() }
        try await node.start()
        for signer in [node.signer, try TestCredentials.signer(secrets: second)] {
            let listed = try await node.request("GET", node.base + "/chunks", signer: signer)
            #expect(listed.status == 200, "\(listed)")
        }
    }

    @Test("without a secret: serves on loopback with a warning; refuses to start on 0.0.0.0 unless --insecure-no-auth",
          arguments: testedEngines)
    func withoutSecret(engine: IOEngineKind) async throws {
        try await withDataNode(engine, "auth-none", secured: false) { node, directory in
            #expect(node.currentLog().contains("auth OFF") && node.currentLog().contains("serving without authentication, on a loopback address only"),
                    "\(node.currentLog().suffix(1500))")
            let payload = try Payload.random(1000, in: directory.files)
            #expect(try await node.put(ChunkID.random(), payload).status == 201, "an unsigned PUT on a node without a secret")
        }
        let directory = try TestDirectory("auth-open-\(engine)")
        defer { directory.remove() }
        let refused = try await runProgram(try builtExecutable("datanode"), ["--io", engine.rawValue, "--host", "0.0.0.0", "--port", "0",
                                                                               "--data-dir", directory.data + "/never"])
        #expect(refused.status != 0 && refused.stderr.contains("refusing to serve 0.0.0.0:0 without authentication"), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: directory.data + "/never/node-id"), "a refused start wrote a node id")
        let open = try DataNode(engine: engine, directory: directory, arguments: ["--host", "0.0.0.0", "--insecure-no-auth"], secured: false)
        defer { open.kill() }
        try await open.start()
        #expect(open.currentLog().contains("--insecure-no-auth: serving without authentication on 0.0.0.0:"), "\(open.currentLog().suffix(1500))")
        let both = try await runProgram(try builtExecutable("datanode"), ["--insecure-no-auth", "--cluster-secret-file", "/dev/null"])
        #expect(both.status != 0 && both.stderr.contains("contradict"), "\(both)")
    }
}
