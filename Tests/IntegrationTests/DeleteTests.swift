import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// DELETE, and the deletion worker that removes the chunks afterwards.
@Suite("Deletes and garbage collection")
struct DeleteTests {
    /// The chunks a PUT added, from the data nodes' lists before and after.
    static func put(_ cluster: Cluster, _ key: String, _ file: String) async throws -> Set<String> {
        let before = try await cluster.chunksPerNode().reduce(into: Set<String>()) { $0.formUnion($1) }
        let put = try await cluster.put(key, file: file)
        #expect(put.status == 201, "PUT \(key): \(put)")
        let after = try await cluster.chunksPerNode().reduce(into: Set<String>()) { $0.formUnion($1) }
        return after.subtracting(before)
    }

    static func allChunks(_ cluster: Cluster) async throws -> Set<String> {
        try await cluster.chunksPerNode().reduce(into: Set<String>()) { $0.formUnion($1) }
    }

    @Test("DELETE → 204, then 404; with --deletion-grace 0 the chunks leave the data nodes", arguments: testedEngines)
    func deleteAndCollect(engine: IOEngineKind) async throws {
        try await withCluster(engine, "delete", apiOptions: ["--chunk-size", "64KiB", "--deletion-grace", "0"]) { cluster in
            let doomedFile = try await cluster.randomFile("doomed", size: 5 * 65536 + 1)
            let keptFile = try await cluster.randomFile("kept", size: 2 * 65536)
            let doomed = try await Self.put(cluster, "doomed", doomedFile)
            let kept = try await Self.put(cluster, "kept", keptFile)
            #expect(doomed.count == 6 && kept.count == 2)

            let delete = try await cluster.delete("doomed")
            #expect(delete.status == 204 && delete.body.isEmpty, "\(delete)")
            let get = try await cluster.get("doomed")
            #expect(get.status == 404 && get.isJSON, "\(get)")
            #expect(try await cluster.get("doomed", to: "/dev/null", extra: ["-I"]).status == 404)
            let again = try await cluster.delete("doomed")
            #expect(again.status == 404 && again.isJSON, "\(again)")
            let never = try await cluster.delete("never/existed")
            #expect(never.status == 404 && never.isJSON, "\(never)")
            #expect(try await cluster.listKeys() == ["kept"])

            let collected = try await cluster.poll(seconds: 6) { try await Self.allChunks(cluster).isDisjoint(with: doomed) }
            #expect(collected, "chunks of the deleted object are still on the data nodes after 6 s")
            #expect(try await Self.allChunks(cluster) == kept, "only the deleted object's chunks go")

            // Overwriting replaces the chunks too.
            let newFile = try await cluster.randomFile("kept2", size: 3 * 65536 + 9)
            let replacement = try await Self.put(cluster, "kept", newFile)
            let replaced = try await cluster.poll(seconds: 6) { try await Self.allChunks(cluster) == replacement }
            #expect(replaced, "the overwritten object's old chunks are still on the data nodes after 6 s")
            let out = newFile + ".out"
            #expect(try await cluster.get("kept", to: out).status == 200)
            #expect(try await sameBytes(newFile, out, scratch: cluster.scratch.tmp))
        }
    }

    @Test("a deleted object's chunks stay through the grace period for reads in progress, then go", arguments: testedEngines)
    func graceKeepsChunks(engine: IOEngineKind) async throws {
        let graceSeconds = 6
        try await withCluster(engine, "grace", apiOptions: ["--chunk-size", "64KiB", "--deletion-grace", "\(graceSeconds)"],
                              busy: false) { cluster in
            let file = try await cluster.randomFile("object", size: 3 * 65536)
            let chunks = try await Self.put(cluster, "object", file)
            #expect(chunks.count == 3)
            let deleted = ContinuousClock.now
            #expect(try await cluster.delete("object").status == 204)
            // The deletion worker polls every second: give it two rounds inside the grace period.
            try await Task.sleep(for: .milliseconds(2500))
            let during = try await Self.allChunks(cluster)
            // Only a listing that finished inside the grace period says anything (a slow machine
            // may get here later, when the chunks may rightly be gone).
            if ContinuousClock.now - deleted < .seconds(graceSeconds) {
                #expect(during.isSuperset(of: chunks), "chunks were deleted before the \(graceSeconds) s grace period")
            }
            let collected = try await cluster.poll(seconds: Double(graceSeconds) + 20) {
                try await Self.allChunks(cluster).isDisjoint(with: chunks)
            }
            #expect(collected, "the deleted object's chunks are still on the data nodes more than 20 s after their \(graceSeconds) s grace period")
        }
    }
}
