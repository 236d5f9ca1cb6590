import FlareCore
import FlareHTTP
import FlareIO
import Foundation

/// Runs a matrix against Flare (a cluster it starts, or a running one), measures the
/// same-run baselines, and puts the report together.
public struct BenchRunner {
    public struct Options: Sendable {
        public var matrix: BenchMatrix
        public var quick: Bool
        /// A running cluster's API (`http://host:port`); `nil` starts a local one.
        public var target: String?
        public var engine: String = "auto"
        public var binDirectory: String
        /// Where data and baseline files go: the disk under test.
        public var workDirectory: String
        public var includeNginx = true
        /// Rounds of Flare, nginx and the machine baselines back to back (order alternating);
        /// the report shows medians. One round is the plain run.
        public var rounds = 1
        /// Copies of every chunk in the clusters it starts, one cluster per value, measured in
        /// the same rounds (1: the committed baseline's setting).
        public var replicas = [1]
        /// Keep the local cluster's data and logs when it stops (the api then logs at `info`).
        public var keepCluster = false
        /// S3 rows beside the native ones (``S3Workload``): the clusters serve S3, and each
        /// round also moves objects through boto3 and awscli (and, with nginx, the clients'
        /// own ceiling). Local clusters only.
        public var s3: S3Workload.Options?

        public init(matrix: BenchMatrix, quick: Bool, target: String?, binDirectory: String, workDirectory: String) {
            self.matrix = matrix
            self.quick = quick
            self.target = target
            self.binDirectory = binDirectory
            self.workDirectory = workDirectory
        }
    }

    let options: Options
    let progress = ProgressReporter()

    public init(options: Options) {
        self.options = options
    }

    public func run() async throws -> BenchReport {
        precondition(!options.replicas.isEmpty, "at least one setting of copies")
        var clusters: [(replicas: Int, cluster: LocalCluster)] = []
        var clusterOptions = LocalCluster.Options(binDirectory: options.binDirectory, workDirectory: options.workDirectory)
        clusterOptions.engine = options.engine
        clusterOptions.keepFiles = options.keepCluster
        clusterOptions.s3 = options.s3 != nil
        precondition(options.s3 == nil || options.target == nil, "S3 rows need a cluster flare-bench starts")
        defer { clusters.forEach { $0.cluster.stop() } }
        // Flare's servers to measure: the --target, or one local cluster per setting of copies.
        var targets: [(replicas: Int?, url: String, cluster: LocalCluster?)] = []
        if let target = options.target {
            targets = [(nil, target, nil)]
        } else {
            for replicas in options.replicas {
                clusterOptions.replicas = replicas
                let started = try LocalCluster(options: clusterOptions)
                clusters.append((replicas, started))
                progress.begin("starting a local cluster (\(options.engine), replicas \(replicas))")
                try started.start()
                progress.finish("local cluster: api \(started.apiURL), data nodes \(started.dataNodePorts.map(String.init).joined(separator: ",")), replicas \(replicas)")
                targets.append((replicas, started.apiURL, started))
            }
        }
        let engine = IOEngineKind(parsing: options.engine) ?? .auto
        let generator = try await LoadGenerator(engine: engine)
        defer { generator.shutdown() }
        var nginx: NginxServer?
        if options.includeNginx {
            nginx = try NginxServer.startIfInstalled(directory: options.workDirectory)
            if nginx == nil { print("note: nginx is not installed; no nginx comparison (make deps installs nginx-light)") }
        }
        defer { nginx?.stop() }
        var s3: S3Workload?
        var s3Facts: S3RunFacts?
        if let s3Options = options.s3 {
            let workload = try S3Workload(options: s3Options, workDirectory: options.workDirectory)
            s3 = workload
            var versions: [String: String] = [:]
            for target in targets {
                guard let cluster = target.cluster else { continue }
                versions = try workload.setUp(endpoint: cluster.s3URL, credentials: cluster.s3CredentialsFile)
            }
            s3Facts = S3RunFacts(versions: versions, partBytes: s3Options.partBytes, threadsPerObject: s3Options.threads,
                                 bucket: s3Options.bucket, downloadDirectory: workload.downloads)
        }
        defer { s3?.remove() }
        let loadBefore = loadAverage()

        var rounds: [BenchRound] = []
        for round in 1...max(1, options.rounds) {
            let tag = options.rounds > 1 ? " (round \(round)/\(options.rounds))" : ""
            var workloads: [WorkloadResult] = []
            var baselines: [BaselineResult] = []
            // Odd rounds: Flare, nginx, the machine; even rounds the other way round, so a
            // disk that slows down during the round does not always hit the same side.
            for step in round % 2 == 1 ? [0, 1, 2] : [2, 1, 0] {
                switch step {
                case 0:
                    // Several settings of copies: alternate their order too.
                    for target in round % 2 == 1 ? targets : targets.reversed() {
                        let flare = BenchTarget(address: try socketAddress(of: target.url), pathPrefix: "/object/")
                        let setting = targets.count > 1 ? " replicas \(target.replicas ?? 1)" : ""
                        var measured = try await measure(target: flare, baseURL: target.url, prefix: "/object/", generator: generator,
                                                         label: "Flare\(setting)\(tag)", round: round, meter: target.cluster?.cpuMeter)
                        if let s3, let cluster = target.cluster {
                            let (rows, request) = try s3.measure(endpoint: cluster.s3URL, credentials: cluster.s3CredentialsFile, round: round,
                                                                 meter: cluster.cpuMeter, label: "Flare S3\(setting)\(tag)")
                            measured += rows
                            if s3Facts?.uploadRequest == nil { s3Facts?.uploadRequest = request }
                        }
                        if targets.count > 1, let replicas = target.replicas {
                            let first = replicas == targets[0].replicas
                            measured = measured.map { result in
                                var result = result
                                result.replicas = replicas
                                if !first { result.name += "-r\(replicas)" }
                                return result
                            }
                        }
                        workloads += measured
                    }
                case 1:
                    guard let nginx else { continue }
                    let reference = BenchTarget(address: try SocketAddress(host: "127.0.0.1", port: nginx.port), pathPrefix: "/bench/")
                    let results = try await measure(target: reference, baseURL: "http://127.0.0.1:\(nginx.port)", prefix: "/bench/",
                                                    generator: generator, label: "nginx\(tag)", round: round, storedBy: nginx)
                    for failed in results where !failed.verified {
                        throw BenchError("nginx baseline \(failed.name) failed (\(failed.errors) errors): the comparison would be meaningless")
                    }
                    baselines += results.map { BaselineResult(name: "nginx-\($0.name)", figure: $0.figure, unit: $0.unit, device: $0.device) }
                    if let s3 { baselines += try s3.clientCeiling(nginxPort: nginx.port, round: round) }
                default:
                    baselines += try measureBaselines(round: round)
                }
            }
            workloads.sort { $0.name < $1.name }
            let result = BenchRound(round: round, workloads: workloads, baselines: baselines)
            rounds.append(result)
            if options.rounds > 1 {
                print("  round \(round): " + result.ratios.map { "\($0.workload) \(format($0.value))× \($0.baseline)" }.joined(separator: ", "))
            }
        }
        s3Facts?.loadAverage = [loadBefore, loadAverage()]
        if let s3, s3.options.profile, let cluster = targets.first?.cluster, let meter = cluster.cpuMeter {
            if let reason = APIProfiler.unavailableReason() {
                print("note: \(reason); no profile of the api")
            } else {
                // Kept after the run, to look further (`perf report -i …`); not under the S3 files.
                let kept = try makeTemporaryDirectory(in: options.workDirectory, prefix: "flare-bench-s3-perf-")
                s3Facts?.profiles = try s3.profilePuts(apiURL: cluster.apiURL, endpoint: cluster.s3URL, credentials: cluster.s3CredentialsFile,
                                                       meter: meter, directory: kept)
                print("perf data and reports kept in \(kept)")
            }
        }
        let workloads = RoundSummary.medianWorkloads(rounds)
        let baselines = RoundSummary.medianBaselines(rounds)
        let machine = MachineFacts.describe(engine: options.engine, chunkSizeBytes: ByteSize.parse(clusterOptions.chunkSize) ?? 0,
                                            windowChunks: clusterOptions.window, replicas: options.target == nil ? options.replicas[0] : nil)
        var report = BenchReport(machine: machine, quick: options.quick, workloads: workloads, baselines: baselines,
                                 ratios: RatioRules.ratios(workloads: workloads, baselines: baselines),
                                 rounds: rounds.count > 1 ? rounds : nil)
        report.s3 = s3Facts
        return report
    }

    /// The matrix against one server: the curl object, then each workload's PUT and GET.
    /// Keys carry the round, so no round reads what another one wrote. For nginx
    /// (`storedBy`) the curl object is also made durable after its PUT and read again with
    /// the page cache dropped: the same jobs as Flare's, whose PUT answers only once every
    /// chunk is synced and whose GET reads every chunk from the disk.
    private func measure(target: BenchTarget, baseURL: String, prefix: String, generator: LoadGenerator, label: String,
                         round: Int, storedBy nginx: NginxServer? = nil, meter: CPUMeter? = nil) async throws -> [WorkloadResult] {
        var results: [WorkloadResult] = []
        let progress = self.progress
        let size = options.matrix.curlObjectBytes
        let (file, crc, sizeLabel) = try makeCurlObject()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let urlPath = "\(prefix)bench/curl-\(sizeLabel)-r\(round)"
        let url = "\(baseURL)\(urlPath)"
        // The disk's counters around each phase: they show what durability costs each server.
        let disk = BlockDevice(containing: options.workDirectory)
        progress.begin("\(label): curl -T \(sizeLabel)")
        var before = disk?.snapshot()
        var cpuBefore = meter?.snapshot()
        var put = try CurlWorkload.put(file: file, bytes: size, url: url, name: "put-curl-\(sizeLabel)")
        put.device = disk?.activity(since: before)
        put.cpu = cpuBefore.flatMap { meter?.use(since: $0) }
        progress.finish("\(label) put-curl-\(sizeLabel): \(ReportTable.formatFigure(put.figure)) MB/s")
        let putBefore = before
        var durable: WorkloadResult?
        if let nginx, put.verified {
            progress.begin("\(label): fsync the stored \(sizeLabel)")
            var synced = put
            synced.name = "durable-\(put.name)"
            synced.seconds += try StoredFile.makeDurable(nginx.storedFile(urlPath: urlPath))
            synced.latencyMs = .single(synced.seconds)
            synced.device = disk?.activity(since: putBefore)
            progress.finish("\(label) put-curl-\(sizeLabel) + fsync: \(ReportTable.formatFigure(synced.figure)) MB/s")
            durable = synced
        }
        progress.begin("\(label): curl GET \(sizeLabel)")
        before = disk?.snapshot()
        cpuBefore = meter?.snapshot()
        var get = try CurlWorkload.get(url: url, bytes: size, expected: crc, name: "get-curl-\(sizeLabel)")
        get.device = disk?.activity(since: before)
        get.cpu = cpuBefore.flatMap { meter?.use(since: $0) }
        progress.finish("\(label) get-curl-\(sizeLabel): \(ReportTable.formatFigure(get.figure)) MB/s\(get.verified ? "" : " — WRONG BYTES")")
        results += [put, get]
        if let nginx, let durable {
            results.append(durable)
            let stored = nginx.storedFile(urlPath: urlPath)
            let stillCached = try StoredFile.evictFromPageCache(stored)
            if stillCached > 0.1 {
                // A tmpfs work directory, say: a "from disk" figure would be a page-cache one.
                print("note: \(Int(stillCached * 100))% of nginx's \(sizeLabel) file stayed in the page cache; no from-disk nginx GET")
            } else {
                progress.begin("\(label): curl GET \(sizeLabel), the file dropped from the page cache")
                before = disk?.snapshot()
                var cold = try CurlWorkload.get(url: url, bytes: size, expected: crc, name: "cold-get-curl-\(sizeLabel)")
                cold.device = disk?.activity(since: before)
                progress.finish("\(label) get-curl-\(sizeLabel) from disk: \(ReportTable.formatFigure(cold.figure)) MB/s\(cold.verified ? "" : " — WRONG BYTES")")
                results.append(cold)
            }
        }
        for var spec in options.matrix.workloads {
            spec.namespace = "bench-r\(round)"
            progress.begin("\(label): PUT \(spec.label)")
            before = disk?.snapshot()
            cpuBefore = meter?.snapshot()
            var (written, checksums) = try await generator.put(spec, to: target, name: "put-\(spec.label)") { progress.add($0) }
            written.device = disk?.activity(since: before)
            written.cpu = cpuBefore.flatMap { meter?.use(since: $0) }
            progress.finish("\(label) put-\(spec.label): \(ReportTable.formatFigure(written.figure)) \(written.unit), p99 \(written.latencyMs.p99) ms, \(written.errors) errors")
            progress.begin("\(label): GET \(spec.label)")
            before = disk?.snapshot()
            cpuBefore = meter?.snapshot()
            var read = try await generator.get(spec, from: target, name: "get-\(spec.label)", checksums: checksums) { progress.add($0) }
            read.device = disk?.activity(since: before)
            read.cpu = cpuBefore.flatMap { meter?.use(since: $0) }
            progress.finish("\(label) get-\(spec.label): \(ReportTable.formatFigure(read.figure)) \(read.unit), p99 \(read.latencyMs.p99) ms, \(read.errors) errors\(read.verified ? "" : " — NOT VERIFIED")")
            results += [written, read]
        }
        return results
    }

    /// The object every curl workload moves, Flare's and the minimal pipeline's alike (the
    /// same path and size give the same bytes): its path, CRC32C and size label (`256MiB`).
    /// The caller removes the file.
    private func makeCurlObject() throws -> (file: String, crc: UInt32, sizeLabel: String) {
        let size = options.matrix.curlObjectBytes
        let file = "\(options.workDirectory)/flare-bench-object-\(getpid())"
        ChildProcess.removeOnInterrupt(file)
        let crc = try CurlWorkload.makeFile(at: file, bytes: size)
        return (file, crc, ByteSize.format(size).replacingOccurrences(of: " ", with: ""))
    }

    /// The minimal pipeline of Flare's shape (``MinimalPipeline``) moving the curl object:
    /// `pipeline-put-curl-<size>` and `pipeline-get-curl-<size>`, the yardstick Flare's own
    /// curl workloads are held against. Skipped with a note when it cannot run here; a PUT
    /// that fails or a GET that returns wrong bytes fails the run, as nginx's do.
    private func measurePipeline(round: Int) throws -> [BaselineResult] {
        if let reason = MinimalPipeline.unavailableReason(binDirectory: options.binDirectory) {
            if round == 1 { print("note: \(reason); no minimal-pipeline comparison") }
            return []
        }
        let size = options.matrix.curlObjectBytes
        progress.begin("baseline: starting the minimal pipeline (flare-pipeline, 3 stores)")
        let pipeline = try MinimalPipeline(binDirectory: options.binDirectory, workDirectory: options.workDirectory)
        defer { pipeline.stop() }
        let (file, crc, sizeLabel) = try makeCurlObject()
        defer { try? FileManager.default.removeItem(atPath: file) }
        progress.finish("minimal pipeline: relay :\(pipeline.relayPort), stores \(pipeline.storePorts.map(String.init).joined(separator: ","))")
        let url = "\(pipeline.url)/bench/curl-\(sizeLabel)-r\(round)"
        let disk = BlockDevice(containing: options.workDirectory)
        progress.begin("baseline: minimal pipeline, curl -T \(sizeLabel)")
        var before = disk?.snapshot()
        let put = try CurlWorkload.put(file: file, bytes: size, url: url, name: "pipeline-put-curl-\(sizeLabel)")
        let putDevice = disk?.activity(since: before)
        guard put.verified else {
            throw BenchError("the minimal pipeline's PUT failed (logs in \(pipeline.root)): the comparison would be meaningless")
        }
        progress.finish("baseline \(put.name): \(ReportTable.formatFigure(put.figure)) MB/s")
        progress.begin("baseline: minimal pipeline, curl GET \(sizeLabel)")
        before = disk?.snapshot()
        let get = try CurlWorkload.get(url: url, bytes: size, expected: crc, name: "pipeline-get-curl-\(sizeLabel)")
        let getDevice = disk?.activity(since: before)
        guard get.verified else {
            throw BenchError("the minimal pipeline's GET returned wrong bytes (\(get.bytes) of \(size)): the comparison would be meaningless")
        }
        progress.finish("baseline \(get.name): \(ReportTable.formatFigure(get.figure)) MB/s")
        return [BaselineResult(name: put.name, figure: put.figure, unit: put.unit, device: putDevice),
                BaselineResult(name: get.name, figure: get.figure, unit: get.unit, device: getDevice)]
    }

    private func measureBaselines(round: Int) throws -> [BaselineResult] {
        var baselines: [BaselineResult] = []
        let large = options.matrix.curlObjectBytes
        progress.begin("baseline: loopback TCP")
        baselines.append(try SocketBaselines.loopbackThroughput(streams: 1, bytesPerStream: large))
        let streams = min(8, options.matrix.workloads.filter { $0.objectBytes >= 256 * 1024 }.map(\.clients).max() ?? 8)
        baselines.append(try SocketBaselines.loopbackThroughput(streams: streams, bytesPerStream: large / streams))
        progress.finish("baseline loopback TCP: " + baselines.map { "\($0.name) \(ReportTable.formatFigure($0.figure)) MB/s" }.joined(separator: ", "))
        for connections in options.matrix.smallObjectConcurrency.sorted() {
            progress.begin("baseline: TCP round trips × \(connections)")
            let trips = try SocketBaselines.roundTrips(connections: connections, requestBytes: 4096, seconds: options.quick ? 1 : 2)
            progress.finish("baseline \(trips.name): \(ReportTable.formatFigure(trips.figure)) ops/s")
            baselines.append(trips)
        }
        progress.begin("baseline: fio O_DIRECT on \(options.workDirectory)")
        let disk = try DiskBaseline.measure(directory: options.workDirectory, bytes: large)
        progress.finish("baseline disk: " + disk.map { "\($0.name) \(ReportTable.formatFigure($0.figure)) MB/s" }.joined(separator: ", "))
        return baselines + disk + (try measurePipeline(round: round))
    }
}

/// The first three fields of `/proc/loadavg`: `1.05 0.98 0.77`.
func loadAverage() -> String {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

/// `http://host:port` → the address.
public func socketAddress(of url: String) throws -> SocketAddress {
    var rest = Substring(url)
    if rest.hasPrefix("http://") { rest = rest.dropFirst(7) }
    if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
    return try SocketAddress(parsing: String(rest))
}
