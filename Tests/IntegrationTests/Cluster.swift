import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Glibc
import Testing

/// Three data nodes and an API node on loopback, all on one engine, for one test. They run
/// with a cluster secret and the api with an admin token, as a deployed cluster does, and
/// the helpers that speak to data nodes or the admin API directly sign or send the token.
final class Cluster: @unchecked Sendable {
    let engine: IOEngineKind
    let scratch: Scratch
    /// The cluster secret every node gets and the api's admin token (files in the scratch directory).
    let credentials: TestCredentials
    /// The api's secret and token flags, for every start of it; a test may change them
    /// (another secret, no admin token) and restart the api.
    var apiAuthOptions: [String]
    let dataNodes: [ServerProcess]
    let api: ServerProcess
    let apiOptions: [String]
    let dataNodeOptions: [String]
    /// Options for one data node each (by index), after `dataNodeOptions`: zones, say.
    let perNodeOptions: [[String]]
    /// How many of the data nodes (the first ones) the api is given in `--datanodes`; the
    /// others are started too, for a test to add them to the layout.
    var listedDataNodes: Int

    init(engine: IOEngineKind, scratch: Scratch, dataNodeCount: Int, apiOptions: [String], dataNodeOptions: [String] = [],
         perNodeOptions: [[String]] = []) throws {
        self.engine = engine
        self.scratch = scratch
        credentials = try TestCredentials(directory: scratch.path)
        apiAuthOptions = ["--cluster-secret-file", credentials.secretFile, "--admin-token-file", credentials.adminTokenFile]
        self.apiOptions = apiOptions
        self.dataNodeOptions = dataNodeOptions
        self.perNodeOptions = perNodeOptions
        listedDataNodes = dataNodeCount
        let datanode = try builtExecutable("datanode")
        dataNodes = (0..<dataNodeCount).map {
            ServerProcess(name: "datanode \($0 + 1)", executable: datanode, logPath: "\(scratch.path)/datanode-\($0 + 1).log")
        }
        api = ServerProcess(name: "api", executable: try builtExecutable("api"), logPath: "\(scratch.path)/api.log")
    }

    var metadataPath: String { "\(scratch.path)/meta/meta.sqlite" }
    var base: String { api.base }

    /// `http://…/object/<encodedKey>`: the key as it goes on the wire, escapes and all.
    func url(_ encodedKey: String) -> String { "\(api.base)/object/\(encodedKey)" }

    func start() async throws {
        for index in dataNodes.indices { try await startDataNode(index) }
        try await startAPI()
    }

    /// Starts data node `index` on its data directory; on `port` when given (a restart on
    /// the port the API node knows it by).
    func startDataNode(_ index: Int, port: UInt16 = 0) async throws {
        try await dataNodes[index].start(["--io", engine.rawValue, "--data-dir", "\(scratch.path)/datanode-\(index + 1)",
                                          "--threads", "1", "--buffer-pool", "32MiB"] + dataNodeSecretOptions + dataNodeOptions
                                          + (index < perNodeOptions.count ? perNodeOptions[index] : []), scratch: scratch.tmp, port: port)
    }

    /// Starts (or restarts) the API node on the same metadata file and data nodes, with the
    /// cluster's API options or, when given, `options` instead (``apiAuthOptions`` either way).
    func startAPI(options: [String]? = nil) async throws {
        try await api.start(["--io", engine.rawValue, "--datanodes", dataNodes.prefix(listedDataNodes).map(\.address).joined(separator: ","),
                             "--metadata", metadataPath, "--threads", "2"] + apiAuthOptions + (options ?? apiOptions), scratch: scratch.tmp)
    }

    /// What every data node of this cluster is started with: its cluster secret.
    var dataNodeSecretOptions: [String] { ["--cluster-secret-file", credentials.secretFile] }

    /// A request straight to a data node, signed as the api signs (the `-H` headers of
    /// `extra` with it).
    func dataNodeRequest(_ method: String, _ node: ServerProcess, _ target: String, upload: String? = nil, extra: [String] = [],
                         bodyTo: String? = nil) async throws -> CurlResult {
        let (headers, rest) = splitCurlHeaders(extra)
        return try await signedCurl(method, node.base + target, signer: credentials.signer, headers: headers, upload: upload,
                                    extra: rest, scratch: scratch.tmp, bodyTo: bodyTo)
    }

    /// Kills every process by its pid (SIGKILL), for cleanup.
    func killAll() {
        api.killNow()
        dataNodes.forEach { $0.killNow() }
    }

    /// Chunk ids a data node lists on `GET /chunks`.
    func chunks(on node: ServerProcess) async throws -> Set<String> {
        let result = try await dataNodeRequest("GET", node, "/chunks", extra: ["--max-time", "10"])
        guard result.status == 200 else { throw StartFailure(description: "GET /chunks on \(node.name): \(result)") }
        return Set(result.text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
    }

    /// Chunk ids in data node `index`'s directory, read from the disk: works while the node
    /// is down, and does not race the deletions that start once it is back up.
    func chunksOnDisk(_ index: Int) throws -> Set<String> {
        let root = "\(scratch.path)/datanode-\(index + 1)/chunks"
        var ids: Set<String> = []
        for shard in try FileManager.default.contentsOfDirectory(atPath: root) {
            ids.formUnion(try FileManager.default.contentsOfDirectory(atPath: "\(root)/\(shard)"))
        }
        return ids
    }

    /// Each chunk of `key`'s manifest as (chunk id, replica node ids in the manifest's order),
    /// read from the metadata file with Python's sqlite3 in read-only mode: the api holds the
    /// store's lock, and SQLite lets a reader in beside it.
    func manifestChunks(_ key: String) async throws -> [(id: String, replicas: [String])] {
        let script = """
        import sqlite3, sys
        db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
        row = db.execute("SELECT chunks FROM objects WHERE key = ?", (sys.argv[2],)).fetchone()
        sys.stdout.write(row[0] if row else "")
        """
        let outPath = "\(scratch.tmp)/manifest-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        // Native keys are stored in the bucket `flare`.
        let child = try ChildProcess("/usr/bin/python3", ["-c", script, metadataPath, "flare/" + key], stdout: out)
        try out.close()
        defer { child.killNow() }
        let status = await child.exitStatus(within: 10)
        guard status == 0 else { throw StartFailure(description: "reading the manifest of \(key): exit \(String(describing: status))") }
        return readText(outPath).split(separator: "\n").map { line in
            let fields = line.split(separator: " ")
            return (String(fields[1]), fields[4].split(separator: ",").map(String.init))
        }
    }

    /// Every manifest's chunks as (chunk id, replica node ids), by native key (objects of
    /// other buckets by `<bucket>/<key>`), in one read of the metadata file (like
    /// ``manifestChunks(_:)``).
    func allManifestChunks() async throws -> [String: [(id: String, replicas: [String])]] {
        let script = """
        import sqlite3, sys
        db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
        for key, chunks in db.execute("SELECT key, chunks FROM objects"):
            for line in chunks.split("\\n"):
                if line:
                    sys.stdout.write(key.encode("unicode_escape").decode() + "\\t" + line + "\\n")
        """
        let outPath = "\(scratch.tmp)/manifests-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let child = try ChildProcess("/usr/bin/python3", ["-c", script, metadataPath], stdout: out)
        try out.close()
        defer { child.killNow() }
        let status = await child.exitStatus(within: 30)
        guard status == 0 else { throw StartFailure(description: "reading the manifests: exit \(String(describing: status))") }
        var all: [String: [(id: String, replicas: [String])]] = [:]
        for line in readText(outPath).split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            let fields = parts[1].split(separator: " ")
            let stored = String(parts[0])
            let key = stored.hasPrefix("flare/") ? String(stored.dropFirst("flare/".count)) : stored
            all[key, default: []].append((String(fields[1]), fields[4].split(separator: ",").map(String.init)))
        }
        return all
    }

    /// A request to the admin API (`path` after `/admin/`) with the admin token, answered as JSON.
    func admin(_ method: String, _ path: String) async throws -> CurlResult {
        try await curl(["-X", method, "--max-time", "20"] + credentials.adminHeader + ["\(api.base)/admin/\(path)"], scratch: scratch.tmp)
    }

    /// `GET /admin/nodes`' nodes.
    func layoutNodes() async throws -> [[String: Any]] {
        let result = try await admin("GET", "nodes")
        guard result.status == 200, let nodes = result.json?["nodes"] as? [[String: Any]] else {
            throw StartFailure(description: "GET /admin/nodes: \(result)")
        }
        return nodes
    }

    /// How many running data nodes hold each chunk id, from the nodes' own listings.
    func copiesPerChunk() async throws -> [String: Int] {
        var copies: [String: Int] = [:]
        for node in try await chunksPerNode() {
            for chunk in node { copies[chunk, default: 0] += 1 }
        }
        return copies
    }

    /// GETs every object of `files` (key → the file it was stored from) and expects a 200
    /// with exactly the file's bytes; `when` says in which state, for the messages.
    func expectEveryObjectReadsBack(_ files: [String: String], _ when: String,
                                    sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for (key, file) in files.sorted(by: { $0.key < $1.key }) {
            let get = try await self.get(key, to: file + ".out")
            #expect(get.status == 200 && get.curlExit == 0, "\(key) \(when): \(get)", sourceLocation: sourceLocation)
            #expect(try await sameBytes(file, file + ".out", scratch: scratch.tmp), "\(key) \(when)", sourceLocation: sourceLocation)
        }
    }

    /// Chunk ids per running data node (nodes that are down list nothing).
    func chunksPerNode() async throws -> [Set<String>] {
        var all: [Set<String>] = []
        for node in dataNodes { all.append(node.isRunning ? try await chunks(on: node) : []) }
        return all
    }

    /// Polls until `condition` holds, every 100 ms, at most `seconds`; returns whether it held.
    func poll(seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        repeat {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        return try await condition()
    }

    // MARK: - Object requests

    /// `PUT` of a file, with `-T` (streamed, Content-Length from the file) or `--data-binary @file`.
    func put(_ encodedKey: String, file: String, upload: Upload = .streamed, extra: [String] = []) async throws -> CurlResult {
        try await curl(upload.arguments(file) + extra + [url(encodedKey)], scratch: scratch.tmp)
    }

    /// `GET` into `file`.
    func get(_ encodedKey: String, to file: String, extra: [String] = []) async throws -> CurlResult {
        try await curl(extra + [url(encodedKey)], scratch: scratch.tmp, bodyTo: file)
    }

    /// `GET` with the body in memory (errors, small objects).
    func get(_ encodedKey: String, extra: [String] = []) async throws -> CurlResult {
        try await curl(extra + [url(encodedKey)], scratch: scratch.tmp)
    }

    func delete(_ encodedKey: String) async throws -> CurlResult {
        try await curl(["-X", "DELETE", url(encodedKey)], scratch: scratch.tmp)
    }

    /// Every key of `GET /objects?prefix=` (prefix already percent-encoded), following pages.
    func listKeys(prefix encodedPrefix: String = "", pageLimit: Int = 1000) async throws -> [String] {
        var keys: [String] = []
        var after: String?
        for _ in 0..<1000 {
            var query = "prefix=\(encodedPrefix)&limit=\(pageLimit)"
            if let after { query += "&start-after=\(ObjectKey.encode(after))" }
            let result = try await curl(["\(api.base)/objects?\(query)"], scratch: scratch.tmp)
            guard result.status == 200, let json = result.json, let objects = json["objects"] as? [[String: Any]] else {
                throw StartFailure(description: "GET /objects?\(query): \(result)")
            }
            keys += objects.compactMap { $0["key"] as? String }
            guard json["isTruncated"] as? Bool == true, let next = json["nextStartAfter"] as? String else { return keys }
            after = next
        }
        throw StartFailure(description: "listing did not end after 1000 pages")
    }

    /// Requests with `method` the API node has made to data nodes so far (from its `/metrics`).
    func dataNodeRequests(_ method: String) async throws -> Int {
        let metrics = try await curl(["\(api.base)/metrics"], scratch: scratch.tmp)
        return metrics.text.split(separator: "\n")
            .filter { $0.hasPrefix("flare_api_datanode_request_seconds_count{") && $0.contains("method=\"\(method)\"") }
            .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }
            .reduce(0, +)
    }

    /// Chunk fetches the API node has made so far.
    func chunkFetches() async throws -> Int { try await dataNodeRequests("GET") }

    /// A random file of `size` bytes in the scratch directory.
    func randomFile(_ name: String, size: Int) async throws -> String {
        let path = "\(scratch.files)/\(name)"
        try await makeRandomFile(path, size: size)
        return path
    }

    func printLogs(_ label: String) {
        for node in [api] + dataNodes {
            print("--- \(node.name) log (\(label), \(engine)):\n\(node.currentLog().suffix(3000))")
        }
    }
}

/// How curl sends a body.
enum Upload: CaseIterable, CustomStringConvertible {
    /// `-T file`: streamed from the file, `Expect: 100-continue` for large ones.
    case streamed
    /// `--data-binary @file`: curl reads the file into memory first.
    case dataBinary
    /// `-T file` with `Transfer-Encoding: chunked` (as when streaming from a pipe).
    case chunked

    func arguments(_ file: String) -> [String] {
        switch self {
        case .streamed: return ["-T", file]
        case .dataBinary: return ["-X", "PUT", "--data-binary", "@\(file)", "-H", "Content-Type: application/octet-stream"]
        case .chunked: return ["-T", file, "-H", "Transfer-Encoding: chunked"]
        }
    }

    var description: String {
        switch self {
        case .streamed: return "-T"
        case .dataBinary: return "--data-binary"
        case .chunked: return "-T chunked"
        }
    }
}

/// Runs `body` with a fresh cluster of `engine`. Every process is killed by its pid and the
/// scratch directory removed afterwards, also when the body throws (logs are printed then).
/// `busy: false` is for tests that mostly wait: they do not count against ``clusterSlots``.
func withCluster(_ engine: IOEngineKind, _ label: String, apiOptions: [String] = [], dataNodeOptions: [String] = [],
                 perNodeOptions: [[String]] = [], dataNodeCount: Int = 3, listedDataNodes: Int? = nil, busy: Bool = true,
                 _ body: (Cluster) async throws -> Void) async throws {
    try skipIfUnavailable(engine)
    let slots = busy ? clusterSlots : Slots(1)
    await slots.acquire()
    let scratch = try Scratch("\(label)-\(engine)")
    let cluster: Cluster
    do {
        cluster = try Cluster(engine: engine, scratch: scratch, dataNodeCount: dataNodeCount, apiOptions: apiOptions,
                              dataNodeOptions: dataNodeOptions, perNodeOptions: perNodeOptions)
        if let listedDataNodes { cluster.listedDataNodes = listedDataNodes }
    } catch {
        scratch.remove()
        await slots.release()
        throw error
    }
    do {
        try await cluster.start()
        try await body(cluster)
    } catch {
        cluster.printLogs(label)
        cluster.killAll()
        scratch.remove()
        await slots.release()
        throw error
    }
    cluster.killAll()
    scratch.remove()
    await slots.release()
}
