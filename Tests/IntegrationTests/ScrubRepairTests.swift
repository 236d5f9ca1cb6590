import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// A byte flipped on a data node's disk: its scrubber finds and quarantines the chunk, the
/// api makes the copy again from the good one, and no GET ever returns the bad bytes.
@Suite("Scrub and repair")
struct ScrubRepairTests {
    @Test("a flipped byte in a stored chunk: the scrubber quarantines it, the repair replaces it elsewhere, every GET reads right",
          arguments: testedEngines)
    func flippedByteRepaired(engine: IOEngineKind) async throws {
        try await withCluster(engine, "scrub", apiOptions: ["--chunk-size", "64KiB", "--replicas", "2", "--deletion-grace", "1"],
                              dataNodeOptions: ["--scrub-interval", "1", "--scrub-bandwidth", "0"]) { cluster in
            var files: [String: String] = [:]
            for (index, size) in [65536, 3 * 65536 + 5, 100].enumerated() {
                files["s/\(index)"] = try await cluster.randomFile("s-\(index)", size: size)
                #expect(try await cluster.put("s/\(index)", file: files["s/\(index)"]!).status == 201)
            }
            let chunk = try await cluster.manifestChunks("s/1")[1]
            let nodes = try await cluster.layoutNodes()
            let victimID = chunk.replicas[0]
            let victimAddress = nodes.first { $0["id"] as? String == victimID }!["address"] as! String
            let victim = cluster.dataNodes.firstIndex { $0.address == victimAddress }!
            let path = "\(cluster.scratch.path)/datanode-\(victim + 1)/chunks/\(chunk.id.prefix(2))/\(chunk.id)"
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes[100] ^= 0x40
            try bytes.write(to: URL(fileURLWithPath: path))

            // No read until the scrubber has found it: the find must be the scrubber's.
            let node = cluster.dataNodes[victim]
            var listed = ""
            let found = try await cluster.poll(seconds: 30) {
                listed = try await cluster.dataNodeRequest("GET", node, "/chunks/corrupt").text
                return listed.contains(chunk.id)
            }
            #expect(found, "the scrubber did not quarantine \(chunk.id): \(listed)")
            let scrubMetrics = try await curl(["\(node.base)/metrics"], scratch: cluster.scratch.tmp).text
            #expect(scrubMetrics.contains("flare_datanode_scrub_chunks_total{result=\"corrupt\"} 1"), "\(scrubMetrics.prefix(2000))")

            var reads = 0
            var replicas: [String] = []
            let repaired = try await cluster.poll(seconds: 40) {
                for (key, file) in files {
                    let get = try await cluster.get(key, to: file + ".during")
                    #expect(get.status == 200 && get.curlExit == 0, "\(key) while repairing: \(get)")
                    #expect(try await sameBytes(file, file + ".during", scratch: cluster.scratch.tmp), "\(key) while repairing: bad bytes")
                    reads += 1
                }
                replicas = try await cluster.manifestChunks("s/1")[1].replicas
                // The bad copy replaced (the layout may move it back onto the victim later,
                // a good copy then: not a state to wait for).
                let metrics = try await curl(["\(cluster.base)/metrics"], scratch: cluster.scratch.tmp).text
                return replicas.count == 2 && metrics.contains("flare_api_repair_reason_copies_total{reason=\"bad\"} 1")
            }
            #expect(repaired, "the bad copy was not made again: the chunk names \(replicas)")
            #expect(reads > 0)
            // The quarantined copy is deleted from its node once the manifest no longer names it.
            let cleared = try await cluster.poll(seconds: 20) {
                try await !cluster.dataNodeRequest("GET", node, "/chunks/corrupt").text.contains(chunk.id)
            }
            #expect(cleared, "the quarantined copy stayed on its node")
            try await cluster.expectEveryObjectReadsBack(files, "after the repair")
        }
    }
}
