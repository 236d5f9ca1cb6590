@testable import FlareBench
import Foundation
import Testing

@Suite("flare-bench: disk counters")
struct BlockDeviceTests {
    // A line of /sys/block/vda/stat (kernel 6.x: 17 fields).
    static let before = "  125290  13 26112314  561103  401540  1063  524402688  2804163  0  1011080  3702349  17  0  4112  3  86270  601046"

    @Test("a stat line parses, and two readings give the phase's reads, writes and flushes")
    func parseAndDifference() throws {
        let earlier = try #require(BlockCounters(parsing: Self.before))
        #expect(earlier.reads == 125290 && earlier.readSectors == 26112314)
        #expect(earlier.writes == 401540 && earlier.writeSectors == 524402688)
        #expect(earlier.flushes == 86270 && earlier.flushTicks == 601046)
        var later = earlier
        later.writes += 2048
        later.writeSectors += 2 * (2048 << 20) / 1024  // 2 GiB in 512-byte sectors
        later.flushes += 660
        later.flushTicks += 4356
        later.reads += 10
        later.readSectors += 80
        let activity = later.activity(since: earlier, device: "vda")
        #expect(activity.writeBytes == 2 << 30)
        #expect(activity.readBytes == 80 * 512)
        #expect(activity.flushes == 660)
        #expect(abs(activity.flushesPer4MiB - 660.0 / 512.0) < 1e-9)
        #expect(abs(activity.millisecondsPerFlush - 6.6) < 1e-9)
        #expect(activity.summary == "vda: 2147 MB written, 0 MB read, 660 flushes (1.29 per 4 MiB written, 6.6 ms each)")
    }

    @Test("older kernels without flush counters, and garbage")
    func olderFormats() throws {
        let eleven = try #require(BlockCounters(parsing: "1 2 3 4 5 6 7 8 9 10 11"))
        #expect(eleven.flushes == 0 && eleven.writeSectors == 7)
        #expect(BlockCounters(parsing: "") == nil)
        #expect(BlockCounters(parsing: "1 2 3") == nil)
        let quiet = eleven.activity(since: eleven, device: "sda")
        #expect(quiet.flushesPer4MiB == 0 && quiet.millisecondsPerFlush == 0)
        #expect(quiet.summary == "sda: 0 MB written, 0 MB read")
    }

    @Test("the device under a directory is found where /sys shows it, and the report prints its activity")
    func deviceAndReport() throws {
        // Containers may have no block device under /tmp (overlay, tmpfs): then there is nothing to check.
        if let disk = BlockDevice(containing: NSTemporaryDirectory()) {
            #expect(!disk.name.isEmpty)
            #expect(disk.snapshot() != nil)
        }
        var result = workload("chunk-put-8x4MiB", "put", clients: 8, bytes: 4 << 20, figure: 300)
        result.device = DeviceActivity(device: "vda", reads: 0, readBytes: 0, writes: 100, writeBytes: 400 << 20,
                                       flushes: 130, flushMilliseconds: 858)
        let machine = MachineFacts.describe(engine: "uring", chunkSizeBytes: 4 << 20, windowChunks: 0)
        let report = BenchReport(machine: machine, quick: false, workloads: [result], baselines: [], ratios: [], rounds: nil)
        let table = ReportTable.markdown(report)
        #expect(table.contains("chunk-put-8x4MiB — vda: 419 MB written, 0 MB read, 130 flushes (1.30 per 4 MiB written, 6.6 ms each)"))
    }
}
