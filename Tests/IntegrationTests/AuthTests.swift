import FlareAuth
import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Who gets in, in a real cluster: the api's requests to data nodes are signed and nobody
/// else's are taken; the cluster secret is rotated without a restart while a client keeps
/// working; the admin API needs its token, from curl and from the flare CLI; the native API
/// needs one when asked to.
@Suite("Authentication in a cluster")
struct ClusterAuthTests {
    /// A chunk of `key` and the index of a data node holding a copy of it, and of one that does not.
    static func chunkPlaces(_ key: String, _ cluster: Cluster) async throws -> (id: String, holder: Int, other: Int) {
        let chunk = try #require(try await cluster.manifestChunks(key).first)
        let ids = try await nodeIDs(cluster)
        let holder = try #require(ids.firstIndex(of: chunk.replicas[0]))
        let other = try #require(ids.indices.first { !chunk.replicas.contains(ids[$0]) })
        return (chunk.id, holder, other)
    }

    /// Each data node's id, by index, from its `/health` (open to anyone).
    static func nodeIDs(_ cluster: Cluster) async throws -> [String] {
        var ids: [String] = []
        for node in cluster.dataNodes {
            ids.append(try await curl([node.base + "/health"], scratch: cluster.scratch.tmp).json?["id"] as? String ?? "")
        }
        return ids
    }

    static func onDisk(_ cluster: Cluster, _ index: Int, _ id: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(cluster.scratch.path)/datanode-\(index + 1)/chunks/\(id.prefix(2))/\(id)")
    }

    @Test("the api signs, nobody else gets in: unsigned and wrong-secret requests at a data node change nothing, a request captured for one node is refused at another and again at its own; an api with the wrong secret stores nothing and says why",
          arguments: testedEngines)
    func signedPath(engine: IOEngineKind) async throws {
        try await withCluster(engine, "auth-signed", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2"]) { cluster in
            let file = try await cluster.randomFile("signed", size: 200_000)
            #expect(try await cluster.put("signed", file: file).status == 201)
            let (chunk, holder, other) = try await Self.chunkPlaces("signed", cluster)
            let ids = try await Self.nodeIDs(cluster)
            let tmp = cluster.scratch.tmp
            let url = cluster.dataNodes[holder].base + "/chunk/\(chunk)"

            let unsigned = try await curl(["-X", "DELETE", url], scratch: tmp)
            #expect(unsigned.status == 401 && unsigned.headers["www-authenticate"] == RequestSignature.scheme, "\(unsigned)")
            let stranger = try TestCredentials.signer(secrets: TestCredentials.randomHex(bytes: 32))
            let forged = try await signedCurl("DELETE", url, signer: stranger, headers: [("X-Flare-Node-Id", ids[holder])], scratch: tmp)
            #expect(forged.status == 401 && forged.text.contains("which this node does not have"), "\(forged)")
            #expect(Self.onDisk(cluster, holder, chunk), "a refused DELETE deleted the copy")

            // What the api would send to delete the copy on `holder`, copied off the wire and
            // sent to another node: refused there, as the signature names the node meant.
            let captured = signedCurlArguments("DELETE", url, signer: cluster.credentials.signer, headers: [("X-Flare-Node-Id", ids[holder])])
            let elsewhere = captured.map { $0 == url ? cluster.dataNodes[other].base + "/chunk/\(chunk)" : $0 }
            let misdirected = try await curl(elsewhere, scratch: tmp)
            #expect(misdirected.status == 409 && misdirected.text.contains("not \(ids[holder])"), "\(misdirected)")
            // A captured listing sent twice: the second time is a replay.
            let listing = signedCurlArguments("GET", cluster.dataNodes[holder].base + "/chunks", signer: cluster.credentials.signer)
            #expect(try await curl(listing, scratch: tmp).status == 200)
            let replayed = try await curl(listing, scratch: tmp)
            #expect(replayed.status == 403 && replayed.text.contains("replay"), "\(replayed)")
            #expect(try await cluster.get("signed", to: file + ".back").status == 200)
            #expect(try await sameBytes(file, file + ".back", scratch: tmp), "the object changed")
            let log = cluster.api.currentLog()
            #expect(log.contains("requests to data nodes signed with cluster secret"), "\(log.suffix(2000))")

            // An api with another secret: every node refuses it; nothing is committed, and its log says why.
            let wrong = "\(cluster.scratch.path)/wrong-secret"
            try TestCredentials.writePrivate(TestCredentials.randomHex(bytes: 32) + "\n", to: wrong)
            #expect(await cluster.api.stop(SIGTERM) != nil)
            cluster.apiAuthOptions = ["--cluster-secret-file", wrong, "--admin-token-file", cluster.credentials.adminTokenFile]
            try await cluster.startAPI()
            let refused = try await cluster.put("refused", file: file)
            #expect(refused.status == 503 && refused.text.contains("status 401"), "\(refused)")
            // One line per node and 10 s, for whichever request was refused first (a PUT, or the poll of /chunks/corrupt).
            #expect(cluster.api.currentLog().contains(" with 401: its --cluster-secret-file does not hold this api's first secret"),
                    "\(cluster.api.currentLog().suffix(2000))")
            #expect(cluster.dataNodes[holder].currentLog().contains("signed with the cluster secret"), "the data node did not log the refusal")
            #expect(try await cluster.listKeys() == ["signed"])
            let unreadable = try await cluster.get("signed")
            #expect(unreadable.status == 503, "a read with the wrong secret: \(unreadable)")

            #expect(await cluster.api.stop(SIGTERM) != nil)
            cluster.apiAuthOptions = ["--cluster-secret-file", cluster.credentials.secretFile, "--admin-token-file", cluster.credentials.adminTokenFile]
            try await cluster.startAPI()
            #expect(try await cluster.put("after", file: file).status == 201)
        }
    }

    @Test("secret rotation without downtime: data nodes take old and new, the api signs with the new, the old is removed (each step a SIGHUP) while a client keeps writing and reading",
          arguments: testedEngines)
    func rotation(engine: IOEngineKind) async throws {
        try await withCluster(engine, "auth-rotate", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2"]) { cluster in
            let file = try await cluster.randomFile("steady", size: 150_000)
            #expect(try await cluster.put("before", file: file).status == 201)
            let secretFile = cluster.credentials.secretFile
            let oldSecret = try #require(readText(secretFile).split(separator: "\n").last.map(String.init))
            let newSecret = TestCredentials.randomHex(bytes: 32)
            let newID = try ClusterSecret(Substring(newSecret)).keyID

            // A client that never stops while the secret changes under it.
            let failures = LockedList()
            let rounds = LockedCounter()
            let stop = LockedFlag()
            let client = Task {
                var round = 0
                while !stop.isSet {
                    round += 1
                    let key = "steady/\(round % 5)"
                    let put = try await cluster.put(key, file: file)
                    if put.status != 201 { failures.append("PUT \(key) in round \(round): \(put)") }
                    let get = try await cluster.get(key, to: file + ".steady")
                    let same = get.status == 200 ? try await sameBytes(file, file + ".steady", scratch: cluster.scratch.tmp) : false
                    if !same {
                        failures.append("GET \(key) in round \(round): \(get)")
                    }
                    rounds.increment()
                }
            }
            func waitForRounds(_ count: Int) async throws {
                let target = rounds.value + count
                let reached = try await cluster.poll(seconds: 60) { rounds.value >= target }
                #expect(reached, "the client made no progress")
            }
            func hangUp(_ node: ServerProcess, until line: String) async throws {
                let before = node.currentLog().components(separatedBy: line).count
                node.signal(SIGHUP)
                let seen = try await cluster.poll(seconds: 15) { node.currentLog().components(separatedBy: line).count > before }
                #expect(seen, "\(node.name) did not log \(line.debugDescription) after SIGHUP:\n\(node.currentLog().suffix(1500))")
            }
            try await waitForRounds(2)

            // 1. Every data node accepts the new secret and the old one.
            try TestCredentials.writePrivate("\(newSecret)\n\(oldSecret)\n", to: secretFile)
            for node in cluster.dataNodes { try await hangUp(node, until: "cluster secrets now: key ids \(newID), ") }
            try await waitForRounds(2)
            // 2. The api signs with the new one (the first of its file).
            try await hangUp(cluster.api, until: "now signed with cluster secret \(newID)")
            try await waitForRounds(2)
            // 3. The old one goes.
            try TestCredentials.writePrivate("\(newSecret)\n", to: secretFile)
            for node in cluster.dataNodes { try await hangUp(node, until: "cluster secrets now: key ids \(newID) (") }
            try await hangUp(cluster.api, until: "now signed with cluster secret \(newID)")
            try await waitForRounds(2)
            stop.set()
            try await client.value

            #expect(failures.items.isEmpty, "requests failed during the rotation: \(failures.items.prefix(5))")
            let old = try TestCredentials.signer(secrets: oldSecret), new = try TestCredentials.signer(secrets: newSecret)
            let node = cluster.dataNodes[0]
            let byOld = try await signedCurl("GET", node.base + "/chunks", signer: old, scratch: cluster.scratch.tmp)
            #expect(byOld.status == 401 && byOld.text.contains("does not have"), "the old secret still works: \(byOld)")
            #expect(try await signedCurl("GET", node.base + "/chunks", signer: new, scratch: cluster.scratch.tmp).status == 200)
            try await cluster.expectEveryObjectReadsBack(["before": file], "after the rotation")
        }
    }

    @Test("--metrics-auth: /metrics takes the admin token (401 without, 200 with), /health and /ui stay open; refused without --admin-token-file",
          arguments: testedEngines)
    func metricsAuth(engine: IOEngineKind) async throws {
        try await withCluster(engine, "auth-metrics", apiOptions: ["--metrics-auth"]) { cluster in
            let tmp = cluster.scratch.tmp
            let anonymous = try await curl(["\(cluster.base)/metrics"], scratch: tmp)
            #expect(anonymous.status == 401 && !anonymous.text.contains("flare_api_requests_total"), "\(anonymous)")
            let scraped = try await curl(cluster.credentials.adminHeader + ["\(cluster.base)/metrics"], scratch: tmp)
            #expect(scraped.status == 200 && scraped.text.contains("flare_api_requests_total"), "\(scraped)")
            #expect(try await curl(["\(cluster.base)/health"], scratch: tmp).status == 200)
            #expect(try await curl(["\(cluster.base)/ui/"], scratch: tmp).status == 200)
            #expect(await cluster.api.stop(SIGTERM) != nil)
            let refused = try await runProgram(cluster.api.executable, ["--metrics-auth", "--replicas", "1", "--datanodes", cluster.dataNodes[0].address], in: tmp)
            #expect(refused.status != 0 && refused.stderr.contains("--metrics-auth needs --admin-token-file"), "\(refused)")
        }
    }

    @Test("download links: only a token holder gets one; it opens GET and HEAD of that one object without the token, nothing else; altered, it is refused",
          arguments: testedEngines)
    func downloadLinks(engine: IOEngineKind) async throws {
        try await withCluster(engine, "auth-links", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let tmp = cluster.scratch.tmp
            let file = try await cluster.randomFile("linked", size: 3 * 65536 + 17)
            #expect(try await cluster.put("dir/linked.bin", file: file).status == 201)
            #expect(try await cluster.put("dir/other.bin", file: file).status == 201)
            let object = "\(cluster.base)/admin/buckets/flare/object/dir%2Flinked.bin"
            #expect(try await curl([object + "?download-url"], scratch: tmp).status == 401, "a link for no token")
            let answer = try await curl(cluster.credentials.adminHeader + [object + "?download-url"], scratch: tmp)
            let url = try #require(answer.json?["url"] as? String, "\(answer)")
            #expect(answer.json?["expiresInSeconds"] as? Int == 300 && answer.headers["cache-control"] == "no-store", "\(answer)")
            #expect(url.hasPrefix("/admin/buckets/flare/object/dir%2Flinked.bin?expires="), "\(url)")
            let got = try await curl(["\(cluster.base)\(url)"], scratch: tmp, bodyTo: file + ".got")
            #expect(got.status == 200, "\(got)")
            #expect(try await sameBytes(file, file + ".got"))
            #expect(try await curl(["-I", "\(cluster.base)\(url)"], scratch: tmp).status == 200)
            // The same ticket on another object, with a later expiry, or for writing: refused.
            let query = String(url[url.firstIndex(of: "?")!...])
            let elsewhere = try await curl(["\(cluster.base)/admin/buckets/flare/object/dir%2Fother.bin\(query)"], scratch: tmp)
            #expect(elsewhere.status == 403 && elsewhere.text.contains("not one this api made"), "\(elsewhere)")
            let later = url.replacing(/expires=(\d+)/) { "expires=\(Int($0.output.1)! + 3600)" }
            #expect(try await curl(["\(cluster.base)\(later)"], scratch: tmp).status == 403)
            #expect(try await curl(["-X", "DELETE", "\(cluster.base)\(url)"], scratch: tmp).status == 401, "a ticket deleted")
            #expect(try await curl(["-T", file, "\(cluster.base)\(url)"], scratch: tmp).status == 401, "a ticket wrote")
            #expect(try await curl(["\(cluster.base)/admin/nodes\(query)"], scratch: tmp).status == 401, "a ticket opened another admin route")
            #expect(try await cluster.get("dir%2Flinked.bin").status == 200, "the object is still there")
            // A restarted api draws a new key: the old link is void.
            #expect(await cluster.api.stop(SIGTERM) != nil)
            try await cluster.startAPI(options: ["--chunk-size", "64KiB"])
            #expect(try await curl(["\(cluster.base)\(url)"], scratch: tmp).status == 403)
        }
    }

    @Test("admin endpoints: 401 without a token or with a wrong one, 200 with it, from curl and from flare; off (403) without --admin-token-file; --native-auth guards /object and /objects; an open native API on 0.0.0.0 is warned about",
          arguments: testedEngines)
    func tokens(engine: IOEngineKind) async throws {
        try await withCluster(engine, "auth-tokens", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let tmp = cluster.scratch.tmp
            let admin = "\(cluster.base)/admin/nodes"
            let none = try await curl([admin], scratch: tmp)
            #expect(none.status == 401 && none.headers["www-authenticate"]?.hasPrefix("Bearer") == true && none.text.contains("--admin-token-file"), "\(none)")
            let wrong = try await curl(["-H", "Authorization: Bearer not-the-admin-token-at-all", admin], scratch: tmp)
            #expect(wrong.status == 401 && wrong.text.contains("wrong admin token"), "\(wrong)")
            let drain = try await curl(["-X", "POST", "\(cluster.base)/admin/nodes/\(String(repeating: "a", count: 32))/drain"], scratch: tmp)
            #expect(drain.status == 401, "a POST without a token: \(drain)")
            let right = try await cluster.admin("GET", "nodes")
            #expect(right.status == 200 && (right.json?["nodes"] as? [Any])?.count == 3, "\(right)")
            #expect(try await curl(["\(cluster.base)/health"], scratch: tmp).status == 200, "/health is open")

            func flare(_ arguments: [String]) async throws -> FlareRun {
                try await runFlare(["--api", cluster.base] + arguments, engine: engine, scratch: tmp)
            }
            let anonymous = try await flare(["nodes"])
            #expect(anonymous.status == 1 && anonymous.stderr.contains("(HTTP 401)") && anonymous.stderr.contains("--token-file"), "\(anonymous)")
            let badFile = "\(cluster.scratch.path)/wrong-token"
            try TestCredentials.writePrivate("# not it\nnot-the-admin-token-at-all\n", to: badFile)
            let mistaken = try await flare(["--token-file", badFile, "nodes"])
            #expect(mistaken.status == 1 && mistaken.stderr == "flare: wrong admin token (HTTP 401)\n", "\(mistaken)")
            let missing = try await flare(["--token-file", "\(cluster.scratch.path)/no-such-file", "nodes"])
            #expect(missing.status == 1 && missing.stderr.contains("cannot be read"), "\(missing)")
            let allowed = try await flare(["--token-file", cluster.credentials.adminTokenFile, "nodes"])
            #expect(allowed.status == 0 && allowed.stdout.contains("3 nodes"), "\(allowed)")
            #expect(cluster.api.currentLog().contains("refused GET /admin/nodes"), "no log line for the refusals")

            // No --admin-token-file: the admin API is off. --native-auth: objects need a token.
            // --host 0.0.0.0 without --native-auth is warned about first.
            #expect(await cluster.api.stop(SIGTERM) != nil)
            cluster.apiAuthOptions = ["--cluster-secret-file", cluster.credentials.secretFile]
            try await cluster.startAPI(options: ["--chunk-size", "64KiB", "--host", "0.0.0.0"])
            #expect(cluster.api.currentLog().contains("the native API on 0.0.0.0:\(cluster.api.port) is open to anyone"),
                    "\(cluster.api.currentLog().suffix(2000))")
            #expect(cluster.api.currentLog().contains("admin API off (no --admin-token-file)"), "\(cluster.api.currentLog().suffix(2000))")
            let off = try await cluster.admin("GET", "nodes")
            #expect(off.status == 403 && off.text.contains("admin API is off"), "\(off)")
            #expect(await cluster.api.stop(SIGTERM) != nil)

            let nativeFile = "\(cluster.scratch.path)/native-tokens"
            let nativeToken = TestCredentials.randomHex(bytes: 20)
            try TestCredentials.writePrivate("\(nativeToken)\n", to: nativeFile)
            cluster.apiAuthOptions = ["--cluster-secret-file", cluster.credentials.secretFile, "--native-auth", nativeFile]
            try await cluster.startAPI(options: ["--chunk-size", "64KiB", "--host", "0.0.0.0"])
            #expect(!cluster.api.currentLog().contains("is open to anyone"), "warned although --native-auth is on")
            let object = try await cluster.randomFile("native", size: 100_000)
            let bearer = ["-H", "Authorization: Bearer \(nativeToken)"]
            let anonymousPut = try await cluster.put("native", file: object)
            #expect(anonymousPut.status == 401 && anonymousPut.headers["connection"] == "close", "\(anonymousPut)")
            #expect(try await cluster.put("native", file: object, extra: ["-H", "Authorization: Bearer \(String(repeating: "x", count: 40))"]).status == 401)
            #expect(try await cluster.get("native", extra: bearer).status == 404, "a refused PUT stored the object")
            #expect(try await curl(["\(cluster.base)/objects"], scratch: tmp).status == 401, "an unauthenticated listing")
            #expect(try await cluster.put("native", file: object, extra: bearer).status == 201)
            #expect(try await cluster.get("native", extra: bearer).status == 200)
            #expect(try await cluster.get("native").status == 401)
            #expect(try await curl(bearer + ["\(cluster.base)/objects"], scratch: tmp).text.contains("\"native\""))
            #expect(try await curl(["\(cluster.base)/health"], scratch: tmp).status == 200, "/health is open")
        }
    }
}

/// Failures a background client collected, for the test to read at the end.
final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ item: String) { lock.withLock { list.append(item) } }
    var items: [String] { lock.withLock { list } }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.withLock { flag = true } }
    var isSet: Bool { lock.withLock { flag } }
}
