import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Raw O_DIRECT sequential write and read on the disk under test, measured with fio
/// (bs=4M, iodepth=8, io_uring): what the disk does with no server in the way. Writes are
/// measured twice: synced once at the end, and synced after every 4 MiB like a store that
/// acknowledges each chunk only when it is durable (Flare's data node).
///
/// Each write goes to a new file, as Flare's chunks do, and the read covers a file written
/// once, like the chunks a GET reads. (Overwriting a file fio wrote a moment before skips
/// block allocation, and a VM host keeps twice-written blocks in its cache: either made the
/// baseline measure something Flare never gets.)
public enum DiskBaseline {
    /// fio's write then read bandwidth for `bytes` in `directory`.
    public static func measure(directory: String, bytes: Int) throws -> [BaselineResult] {
        guard let fio = which("fio") else { throw BenchError("fio is not installed (make deps installs it)") }
        let size = "\(max(bytes / (1 << 20), 64))M"
        var results: [BaselineResult] = []
        let jobs = [("write", "odirect-write-fsync", "flare-bench-synced", "--fsync=1"),
                    ("write", "odirect-write", "flare-bench", "--end_fsync=1"),
                    ("read", "odirect-read", "flare-bench", "--end_fsync=1")]
        for file in ["flare-bench-synced", "flare-bench"] { ChildProcess.removeOnInterrupt("\(directory)/\(file).0.0") }
        defer {
            for file in ["flare-bench-synced", "flare-bench"] { try? FileManager.default.removeItem(atPath: "\(directory)/\(file).0.0") }
        }
        let disk = BlockDevice(containing: directory)
        for (mode, name, file, sync) in jobs {
            let before = disk?.snapshot()
            let output = try runCommand(fio, ["--name=\(file)", "--directory=\(directory)", "--rw=\(mode)", "--bs=4M",
                                              "--size=\(size)", "--direct=1", "--ioengine=io_uring", "--iodepth=8",
                                              sync, "--output-format=json"])
            var result = BaselineResult(name: name, figure: try fioBandwidth(output.stdout, mode) / 1e6, unit: "MB/s")
            result.device = disk?.activity(since: before)
            results.append(result)
            // The synced file has done its job; the next write starts on a new one.
            if file == "flare-bench-synced" { try? FileManager.default.removeItem(atPath: "\(directory)/\(file).0.0") }
        }
        // Reported in the usual order: write, write+fsync, read.
        return [results[1], results[0], results[2]]
    }
}

extension DiskBaseline {
    /// fio reading `files` (O_DIRECT, 4 MiB blocks, 8 in flight, io_uring) through hard links
    /// gathered in a directory of their own: the very chunk files a data node GET reads, with
    /// their size and layout, as a disk baseline beside the single file fio writes itself.
    public static func readFiles(_ files: [String], linkDirectory: String, name: String) throws -> BaselineResult {
        guard let fio = which("fio") else { throw BenchError("fio is not installed (make deps installs it)") }
        try FileManager.default.createDirectory(atPath: linkDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: linkDirectory) }
        for (index, file) in files.enumerated() where link(file, "\(linkDirectory)/\(index)") != 0 {
            throw BenchError("cannot link \(file) into \(linkDirectory): errno \(errno)")
        }
        let disk = BlockDevice(containing: linkDirectory)
        let before = disk?.snapshot()
        let output = try runCommand(fio, ["--name=chunk-files", "--opendir=\(linkDirectory)", "--rw=read", "--bs=4M", "--direct=1",
                                          "--ioengine=io_uring", "--iodepth=8", "--output-format=json"])
        var result = BaselineResult(name: name, figure: try fioBandwidth(output.stdout, "read") / 1e6, unit: "MB/s")
        result.device = disk?.activity(since: before)
        return result
    }
}

/// Bytes per second of the first job's `mode` ("read" or "write") in fio's JSON output.
/// (fio prints notes before the JSON when given a directory: they are skipped.)
func fioBandwidth(_ output: Data, _ mode: String) throws -> Double {
    guard let start = output.firstIndex(of: UInt8(ascii: "{")),
          let json = try JSONSerialization.jsonObject(with: output[start...]) as? [String: Any],
          let jobs = json["jobs"] as? [[String: Any]], let job = jobs.first,
          let side = job[mode] as? [String: Any], let bandwidth = (side["bw_bytes"] as? NSNumber)?.doubleValue else {
        throw BenchError("cannot read fio's output: \(String(decoding: output.prefix(300), as: UTF8.self))")
    }
    return bandwidth
}

/// The path of an executable on PATH.
public func which(_ name: String) -> String? {
    let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? ""
    var directories = searchPath.split(separator: ":").map(String.init)
    directories += ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
    return directories.map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
}

/// Runs a command to completion; throws when it fails.
@discardableResult
public func runCommand(_ path: String, _ arguments: [String], allowFailure: Bool = false) throws -> (status: Int32, stdout: Data, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try ChildProcess.start(process)
    // stderr is drained on another thread so a chatty command cannot block on a full pipe.
    let errData = DataBox()
    let errDone = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        errData.data = err.fileHandleForReading.readDataToEndOfFile()
        errDone.signal()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    errDone.wait()
    ChildProcess.wait(process, timeoutSeconds: 600)
    let stderr = String(decoding: errData.data, as: UTF8.self)
    if process.terminationStatus != 0 && !allowFailure {
        throw BenchError("\(path) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): \(stderr.suffix(500))")
    }
    return (process.terminationStatus, outData, stderr)
}

final class DataBox: @unchecked Sendable {
    var data = Data()
}
