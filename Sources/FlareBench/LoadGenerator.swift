import FlareAuth
import FlareCore
import FlareHTTP
import FlareIO
import Foundation

/// One workload of the matrix: `clients` clients each storing (then reading)
/// `objectsPerClient` objects of `objectBytes`.
public struct WorkloadSpec: Sendable {
    public var clients: Int
    public var objectBytes: Int
    public var objectsPerClient: Int
    /// Clients stop starting new objects after this long (reads then cover what was written).
    public var timeLimit: Duration?
    /// Name objects as data-node chunk ids and send `X-Flare-Checksum` (benching a data node).
    public var asChunks = false
    /// First component of every key, to keep workloads with the same shape apart.
    public var namespace = "bench"

    public init(clients: Int, objectBytes: Int, objectsPerClient: Int, timeLimit: Duration? = nil, asChunks: Bool = false) {
        self.clients = clients
        self.objectBytes = objectBytes
        self.objectsPerClient = objectsPerClient
        self.timeLimit = timeLimit
        self.asChunks = asChunks
    }

    /// The key (or chunk id) of a client's object.
    func key(client: Int, object: Int) -> String {
        let plain = "\(namespace)/\(label)/\(client)/\(object)"
        guard asChunks else { return plain }
        var high: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in plain.utf8 { high = (high ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let low = high &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(object)
        return ChunkID(high: high, low: low).description
    }

    /// `16x64MiB`, `64x4KiB`.
    public var label: String { "\(clients)x\(ByteSize.format(objectBytes).replacingOccurrences(of: " ", with: ""))" }
}

/// Where requests go: Flare's `/object/` or nginx's WebDAV directory.
public struct BenchTarget: Sendable {
    public var address: SocketAddress
    public var pathPrefix: String

    public init(address: SocketAddress, pathPrefix: String) {
        self.address = address
        self.pathPrefix = pathPrefix
    }
}

/// Drives HTTP load from FlareIO loops: many clients, streamed bodies, checksums of
/// everything sent and received so reads are verified byte for byte (a benchmark that
/// reads wrong bytes must fail loudly).
public final class LoadGenerator: @unchecked Sendable {
    /// Bytes a client sends or receives per call: request bodies stream from, and
    /// responses land in, one buffer of this size per client.
    static let blockBytes = 4 << 20

    let loops: [EventLoop]
    private let clients: [ObjectIdentifier: HTTPClient]

    /// - Parameter signer: signs every request as an api node does (benching a data node
    ///   started with a cluster secret); `nil`: unsigned.
    public init(engine: IOEngineKind, loops count: Int = 2, signer: RequestSigner? = nil) async throws {
        var loops: [EventLoop] = []
        var clients: [ObjectIdentifier: HTTPClient] = [:]
        for index in 0..<count {
            let loop = try EventLoop.start(engine: engine, name: "bench-\(index)")
            loops.append(loop)
            clients[ObjectIdentifier(loop)] = try await loop.run {
                let client = HTTPClient(loop: loop, connectionsPerPeerMax: 256, idlePerPeerMax: 256)
                if let signer {
                    client.beforeSend = { method, target, headers in
                        headers.set("Authorization", signer.authorization(method: method, target: target, header: { headers[$0] },
                                                                          time: wallClockNanoseconds() / 1_000_000_000))
                    }
                }
                return client
            }
        }
        self.loops = loops
        self.clients = clients
    }

    public func shutdown() {
        for loop in loops { loop.shutdown() }
    }

    /// Stores the workload's objects; returns the result and each key's CRC32C.
    public func put(_ spec: WorkloadSpec, to target: BenchTarget, name: String,
                    progress: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> (WorkloadResult, [String: UInt32]) {
        try await run(spec, name: name, operation: "put") { client, index in
            let buffer = PinnedBuffer(count: min(spec.objectBytes, Self.blockBytes), seed: UInt64(index) &* 7919 &+ 1)
            var checksums: [String: UInt32] = [:]
            var tally = ClientTally()
            let deadline = spec.timeLimit.map { ContinuousClock.now + $0 }
            for object in 0..<spec.objectsPerClient {
                if let deadline, ContinuousClock.now > deadline { break }
                let key = spec.key(client: index, object: object)
                let started = ContinuousClock.now
                var crc = CRC32C()
                var headers = HTTPHeaders()
                if spec.asChunks {
                    // A data node verifies the checksum before it acknowledges: it is sent up front.
                    precondition(spec.objectBytes <= buffer.count, "chunk benchmarks send one block per chunk")
                    buffer.stamp(key: key, offset: 0)
                    headers.add("X-Flare-Checksum", CRC32C.headerValue(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<spec.objectBytes]))))
                }
                do {
                    let status = try await client.execute(
                        method: "PUT", target: target.pathPrefix + key, headers: headers,
                        body: .stream(length: spec.objectBytes) { send in
                            var offset = 0
                            while offset < spec.objectBytes {
                                let count = min(buffer.count, spec.objectBytes - offset)
                                buffer.stamp(key: key, offset: offset)
                                let bytes = UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<count])
                                crc.update(bytes)
                                try await send(bytes)
                                offset += count
                            }
                        }, to: target.address, timeout: .seconds(120)) { response in
                        _ = try await response.body.discard(bytesMax: 1 << 20)
                        return response.status
                    }
                    if status / 100 == 2 {
                        checksums[key] = crc.value
                        tally.bytes += spec.objectBytes
                        tally.objects += 1
                        tally.latency.record(.now - started)
                        progress(spec.objectBytes)
                    } else {
                        tally.errors += 1
                    }
                } catch {
                    tally.errors += 1
                }
            }
            return (tally, checksums)
        }
    }

    /// Reads the workload's objects back and checks every byte against `checksums`.
    public func get(_ spec: WorkloadSpec, from target: BenchTarget, name: String, checksums: [String: UInt32],
                    progress: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> WorkloadResult {
        try await run(spec, name: name, operation: "get") { client, index in
            let buffer = PinnedBuffer(count: min(max(spec.objectBytes, 1), Self.blockBytes), seed: 0)
            var tally = ClientTally()
            for object in 0..<spec.objectsPerClient {
                let key = spec.key(client: index, object: object)
                guard checksums[key] != nil else { continue }
                let started = ContinuousClock.now
                do {
                    let (status, received, crc) = try await client.execute(method: "GET", target: target.pathPrefix + key,
                                                                            to: target.address, timeout: .seconds(120)) { response in
                        var crc = CRC32C()
                        var received = 0
                        while true {
                            let count = try await response.body.read(into: buffer.mutableBytes)
                            if count == 0 { break }
                            crc.update(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<count]))
                            received += count
                            progress(count)
                        }
                        return (response.status, received, crc.value)
                    }
                    if status == 200 && received == spec.objectBytes {
                        tally.bytes += received
                        tally.objects += 1
                        tally.latency.record(.now - started)
                        if checksums[key] != crc { tally.mismatches += 1 }
                    } else {
                        tally.errors += 1
                    }
                } catch {
                    tally.errors += 1
                }
            }
            return (tally, [:])
        }.0
    }

    private func run(_ spec: WorkloadSpec, name: String, operation: String,
                     client body: @escaping @Sendable (HTTPClient, Int) async throws -> (ClientTally, [String: UInt32])) async throws
        -> (WorkloadResult, [String: UInt32]) {
        let started = ContinuousClock.now
        let tasks = (0..<spec.clients).map { index in
            let loop = loops[index % loops.count]
            let client = clients[ObjectIdentifier(loop)]!
            return loop.spawn { try await body(client, index) }
        }
        var total = ClientTally()
        var checksums: [String: UInt32] = [:]
        for task in tasks {
            let (tally, sums) = try await task.value
            total.merge(tally)
            checksums.merge(sums) { a, _ in a }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = elapsed.secondsValue
        let result = WorkloadResult(name: name, operation: operation, clients: spec.clients, objectBytes: spec.objectBytes,
                                    objects: total.objects, bytes: total.bytes, seconds: seconds,
                                    latencyMs: total.latency.percentiles, errors: total.errors + total.mismatches,
                                    verified: total.mismatches == 0 && total.errors == 0)
        return (result, checksums)
    }
}

/// Counts of one client.
struct ClientTally: Sendable {
    var bytes = 0
    var objects = 0
    var errors = 0
    var mismatches = 0
    var latency = LatencyRecorder()

    mutating func merge(_ other: ClientTally) {
        bytes += other.bytes
        objects += other.objects
        errors += other.errors
        mismatches += other.mismatches
        latency.merge(other.latency)
    }
}

/// Page-aligned memory a client owns for its whole run (bodies are sent from it and
/// received into it: the kernel may read or write it after a call suspends).
final class PinnedBuffer: @unchecked Sendable {
    let mutableBytes: UnsafeMutableRawBufferPointer

    init(count: Int, seed: UInt64) {
        mutableBytes = .allocate(byteCount: max(count, 1), alignment: 4096)
        var state = seed | 1
        let words = mutableBytes.count / 8
        let pointer = mutableBytes.baseAddress!.assumingMemoryBound(to: UInt64.self)
        for index in 0..<words {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            pointer[index] = state
        }
        for index in (words * 8)..<mutableBytes.count { mutableBytes[index] = UInt8(truncatingIfNeeded: state >> 3) }
        self.count = count
    }

    deinit { mutableBytes.deallocate() }

    let count: Int
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(mutableBytes) }

    /// Makes this block unique to (key, offset): one word per 4 KiB, so a server that
    /// returns another object's bytes, or a block out of place, is caught.
    func stamp(key: String, offset: Int) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var position = 0
        while position + 8 <= count {
            mutableBytes.storeBytes(of: hash ^ UInt64(offset + position), toByteOffset: position, as: UInt64.self)
            position += 4096
        }
    }
}
