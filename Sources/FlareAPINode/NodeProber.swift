import FlareCluster
import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata
import Foundation
import Logging

/// Asks every data node of the layout (``ClusterLayout/probeTargets``) for its `/health`
/// about once a second: learns each node's id (and so where a node restarted on another
/// address now is), zone and capacity, records them in the layout, and feeds the node
/// health table. Runs on one loop.
final class NodeProber: @unchecked Sendable {
    /// What a data node's `/health` says about itself.
    struct Health: Decodable, Sendable {
        var id: NodeID
        var zone: String
        var capacityBytes: Int
        var usedBytes: Int?
        /// Absent from data nodes older than the console.
        var scrub: ScrubProgress?
    }

    static let interval = Duration.seconds(1)
    /// A probe longer than this counts as failed.
    static let timeout = Duration.seconds(2)
    /// Bytes of a `/health` answer read at most.
    static let answerBytesMax = 64 * 1024

    let loop: EventLoop
    private let client: HTTPClient
    private let layout: ClusterLayout
    private var directory: NodeDirectory { layout.directory }
    private var metadata: MetadataStore { layout.metadata }
    private let logger: Logger
    private var task: Task<Void, Error>?

    init(loop: EventLoop, layout: ClusterLayout, logger: Logger) {
        self.loop = loop
        client = HTTPClient(loop: loop, connectionsPerPeerMax: 2, idlePerPeerMax: 1)
        client.connectTimeout = Self.timeout
        self.layout = layout
        self.logger = logger
    }

    /// Probes every node once (on the prober's loop).
    func probeAll() async {
        await withTaskGroup(of: Void.self) { group in
            for node in layout.probeTargets {
                group.addTask { await self.probe(node.text, node.address) }
            }
        }
    }

    func start() {
        task = loop.spawn { [self] in
            while !Task.isCancelled {
                try await loop.sleep(for: Self.interval)
                await probeAll()
            }
        }
    }

    func stop() async {
        task?.cancel()
        _ = await task?.result
    }

    private func probe(_ text: String, _ address: SocketAddress) async {
        let health: Health
        do {
            health = try await fetchHealth(address)
        } catch {
            guard let known = directory.node(at: text) else { return }
            log(directory.record(.probeFailed(NodeFailure(.connection, "\(error)")), node: known.id), known.id, text)
            return
        }
        let id = "\(health.id)"
        let previous = directory.node(at: text)
        if previous?.id != id || previous?.zone != health.zone || previous?.capacityBytes != health.capacityBytes {
            guard await learn(health, at: text, address, previous: previous) else { return }
        }
        if let used = health.usedBytes { directory.setUsedBytes(used, of: id) }
        if let scrub = health.scrub { directory.setScrub(scrub, of: id) }
        log(directory.record(.probeSucceeded, node: id), id, text)
    }

    /// A node seen for the first time at this address, or changed; `false` for a node the
    /// operator removed, which stays out.
    private func learn(_ health: Health, at text: String, _ address: SocketAddress, previous: NodeDirectory.Node?) async -> Bool {
        let id = "\(health.id)"
        do {
            let learned = try await layout.learned(id: id, at: text, address, zone: health.zone, capacityBytes: health.capacityBytes,
                                                   seenNanoseconds: wallClockNanoseconds())
            guard learned.accepted else {
                if learned.firstIgnore {
                    logger.notice("data node \(id) at \(text) was removed from the layout: not using it (flare node add \(text) brings it back)")
                }
                return false
            }
        } catch {
            logger.error("cannot record data node \(id) at \(text): \(error)")
            return false
        }
        if let previous, previous.id != id {
            logger.warning("data node at \(text) now has id \(id), not \(previous.id): its data directory is not the one it had; \(previous.id)'s copies are read from other replicas")
        } else if previous == nil {
            logger.info("data node \(id) at \(text), zone \(health.zone), capacity \(ByteSize.format(health.capacityBytes))")
        }
        do {
            let renamed = try await metadata.renameReplicas(address: text, to: id)
            if renamed > 0 { logger.notice("\(renamed) manifest(s) named node \(text) by address; they now name it by id \(id)") }
        } catch {
            logger.error("cannot rename the replicas recorded as \(text) to \(id): \(error)")
        }
        return true
    }

    /// `/health` of whatever answers at `address` (for a node the operator adds), on the
    /// prober's loop.
    func health(at address: SocketAddress) async throws -> Health {
        try await loop.run { [self] in try await fetchHealth(address) }
    }

    private func fetchHealth(_ address: SocketAddress) async throws -> Health {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.answerBytesMax, alignment: 16)
        defer { buffer.deallocate() }
        let count = try await client.execute(method: "GET", target: "/health", to: address, timeout: Self.timeout) { response in
            guard response.status == 200 else { throw ProbeAnswer("status \(response.status)") }
            return try await response.body.readFully(into: buffer)
        }
        do {
            return try JSONDecoder().decode(Health.self, from: Data(UnsafeRawBufferPointer(rebasing: buffer[0..<count])))
        } catch {
            throw ProbeAnswer("/health is not a data node's (no id, zone and capacity: \(error))")
        }
    }

    private func log(_ change: NodeHealthTransition?, _ id: String, _ address: String) {
        guard let change else { return }
        let reason = change.failure.map { ": \($0)" } ?? ""
        if change.to == .up {
            logger.notice("data node \(id) at \(address) is \(change.to.rawValue) again (was \(change.from.rawValue))")
        } else {
            logger.warning("data node \(id) at \(address) is \(change.to.rawValue) (was \(change.from.rawValue))\(reason)")
        }
    }
}

/// A `/health` answer that does not describe a data node.
struct ProbeAnswer: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
