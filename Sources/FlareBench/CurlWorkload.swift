import FlareCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One large object through curl, as a user would move it: `curl -T file` up, `curl URL`
/// down. What comes down is checksummed as it arrives (no second copy on disk).
public enum CurlWorkload {
    /// A file of `bytes` pseudo-random bytes and its CRC32C.
    public static func makeFile(at path: String, bytes: Int) throws -> UInt32 {
        let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0o644)
        guard fd >= 0 else { throw BenchError("cannot create \(path)") }
        defer { close(fd) }
        let block = PinnedBuffer(count: 4 << 20, seed: 0xF1A2E)
        var crc = CRC32C()
        var written = 0
        while written < bytes {
            let count = min(block.count, bytes - written)
            block.stamp(key: path, offset: written)
            let slice = UnsafeRawBufferPointer(rebasing: block.bytes[0..<count])
            crc.update(slice)
            guard write(fd, slice.baseAddress, count) == count else { throw BenchError("short write to \(path)") }
            written += count
        }
        return crc.value
    }

    /// `curl -T file url`; returns the result (errors when the status is not 2xx).
    public static func put(file: String, bytes: Int, url: String, name: String, curlOptions: [String] = []) throws -> WorkloadResult {
        let started = ContinuousClock.now
        let output = try runCommand("/usr/bin/curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}"] + curlOptions + ["-T", file, url], allowFailure: true)
        let seconds = elapsedSeconds(since: started)
        let status = Int(String(decoding: output.stdout, as: UTF8.self)) ?? 0
        let ok = output.status == 0 && status / 100 == 2
        return WorkloadResult(name: name, operation: "put", clients: 1, objectBytes: bytes, objects: ok ? 1 : 0,
                              bytes: ok ? bytes : 0, seconds: seconds,
                              latencyMs: .single(seconds),
                              errors: ok ? 0 : 1, verified: ok)
    }

    /// `curl url` with its output checksummed on the fly and compared with `expected`.
    public static func get(url: String, bytes: Int, expected: UInt32, name: String, curlOptions: [String] = []) throws -> WorkloadResult {
        try timedGet(url: url, bytes: bytes, expected: expected, name: name, curlOptions: curlOptions).result
    }

    /// ``get(url:bytes:expected:name:)``, also timing the longest wait between two reads
    /// of the body (the stall a client sees); `onBytes` hears the running byte count.
    static func timedGet(url: String, bytes: Int, expected: UInt32, name: String, curlOptions: [String] = [],
                         onBytes: (Int) -> Void = { _ in }) throws -> (result: WorkloadResult, longestGapSeconds: Double) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "-f"] + curlOptions + [url]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        let started = ContinuousClock.now
        try ChildProcess.start(process)
        let fd = out.fileHandleForReading.fileDescriptor
        // A 1 MiB pipe instead of the default 64 KiB: with 64 KiB, curl and this process
        // switch places every 64 KiB, and on a small machine that CPU is taken from the
        // servers being measured. (F_SETPIPE_SZ is 1031 on Linux; Glibc's module hides it.)
        _ = fcntl(fd, 1031, Int32(1 << 20))
        let block = PinnedBuffer(count: 1 << 20, seed: 0)
        var crc = CRC32C()
        var received = 0
        var lastRead = started, longestGap = Duration.zero
        while true {
            let count = read(fd, block.mutableBytes.baseAddress, block.count)
            if count <= 0 { break }
            let now = ContinuousClock.now
            longestGap = max(longestGap, now - lastRead)
            lastRead = now
            crc.update(UnsafeRawBufferPointer(rebasing: block.bytes[0..<count]))
            received += count
            onBytes(received)
        }
        ChildProcess.wait(process, timeoutSeconds: 600)
        let seconds = elapsedSeconds(since: started)
        let ok = process.terminationStatus == 0 && received == bytes
        let verified = ok && crc.value == expected
        let result = WorkloadResult(name: name, operation: "get", clients: 1, objectBytes: bytes, objects: ok ? 1 : 0,
                                    bytes: received, seconds: seconds,
                                    latencyMs: .single(seconds),
                                    errors: verified ? 0 : 1, verified: verified)
        return (result, longestGap.secondsValue)
    }
}

func elapsedSeconds(since start: ContinuousClock.Instant) -> Double {
    (ContinuousClock.now - start).secondsValue
}
