import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the disk under the work directory did during one phase of a run, from the kernel's
/// block-layer counters (`/sys/dev/block/M:m/stat`). The figure that explains a durable
/// write path is the cache flushes: every fsync reaches the device as one or more, and on a
/// VM disk each can cost milliseconds, so "flushes per 4 MiB written" says how much of a
/// write workload the durability itself costs.
public struct DeviceActivity: Codable, Sendable, Equatable {
    /// The device, e.g. `vda`.
    public var device: String
    public var reads: Int
    public var readBytes: Int
    public var writes: Int
    public var writeBytes: Int
    public var flushes: Int
    /// Time the flushes took on the device, summed.
    public var flushMilliseconds: Int

    /// Flushes per 4 MiB written (how many syncs each chunk-sized write cost).
    public var flushesPer4MiB: Double { writeBytes > 0 ? Double(flushes) / (Double(writeBytes) / Double(4 << 20)) : 0 }
    /// Mean device time of one flush.
    public var millisecondsPerFlush: Double { flushes > 0 ? Double(flushMilliseconds) / Double(flushes) : 0 }

    /// One line for the report, e.g. `vda: 2048 MB written, 0 MB read, 660 flushes (1.29 per 4 MiB, 6.6 ms each)`.
    public var summary: String {
        var text = "\(device): \(writeBytes / 1_000_000) MB written, \(readBytes / 1_000_000) MB read"
        if flushes > 0 {
            text += ", \(flushes) \(flushes == 1 ? "flush" : "flushes") (\(String(format: "%.2f", flushesPer4MiB)) per 4 MiB written, "
            text += "\(String(format: "%.1f", millisecondsPerFlush)) ms each)"
        }
        return text
    }
}

/// The block device holding a directory, and snapshots of its counters.
public struct BlockDevice: Sendable {
    /// e.g. `vda`.
    public let name: String
    /// The whole disk's `stat` file (flushes are counted on the disk, not its partitions).
    let statPath: String

    /// The device of the filesystem holding `path`, or `nil` where there is none to read
    /// (tmpfs, overlay filesystems, no /sys).
    public init?(containing path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let device = UInt64(info.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        var directory = URL(fileURLWithPath: "/sys/dev/block/\(major):\(minor)").resolvingSymlinksInPath()
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("partition").path) {
            directory = directory.deletingLastPathComponent()
        }
        let stat = directory.appendingPathComponent("stat").path
        guard FileManager.default.isReadableFile(atPath: stat) else { return nil }
        self.name = directory.lastPathComponent
        self.statPath = stat
    }

    /// The counters now.
    public func snapshot() -> BlockCounters? {
        guard let text = try? String(contentsOfFile: statPath, encoding: .utf8) else { return nil }
        return BlockCounters(parsing: text)
    }

    /// What the device did since `earlier` (`nil` when either reading is missing).
    public func activity(since earlier: BlockCounters?) -> DeviceActivity? {
        guard let earlier, let now = snapshot() else { return nil }
        return now.activity(since: earlier, device: name)
    }
}

/// One reading of a block device's `stat` file (see the kernel's Documentation/block/stat.rst).
public struct BlockCounters: Equatable, Sendable {
    public var reads: Int
    public var readSectors: Int
    public var writes: Int
    public var writeSectors: Int
    /// Zero on kernels before 5.5, which do not count flushes.
    public var flushes: Int
    public var flushTicks: Int

    /// Parses the whitespace-separated fields: reads, merges, sectors, ticks; the same four
    /// for writes; in flight, io ticks, queue time; four for discards; flushes and their ticks.
    public init?(parsing text: String) {
        let fields = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard fields.count >= 11 else { return nil }
        reads = fields[0]
        readSectors = fields[2]
        writes = fields[4]
        writeSectors = fields[6]
        flushes = fields.count >= 17 ? fields[15] : 0
        flushTicks = fields.count >= 17 ? fields[16] : 0
    }

    /// What happened between `earlier` and this reading (sectors are always 512 bytes here).
    public func activity(since earlier: BlockCounters, device: String) -> DeviceActivity {
        DeviceActivity(device: device, reads: reads - earlier.reads, readBytes: (readSectors - earlier.readSectors) * 512,
                       writes: writes - earlier.writes, writeBytes: (writeSectors - earlier.writeSectors) * 512,
                       flushes: flushes - earlier.flushes, flushMilliseconds: flushTicks - earlier.flushTicks)
    }
}
