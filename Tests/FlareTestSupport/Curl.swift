import FlareCore
import Foundation
import Glibc

/// One curl exchange. Headers are those of the final response (after any `100 Continue`),
/// with lower-cased names.
public struct CurlResult: CustomStringConvertible {
    public let status: Int
    public let headers: [String: String]
    /// The body, unless it was written to a file.
    public let body: Data
    public let curlExit: Int32
    public let curlError: String
    public let seconds: Double

    public var text: String { String(decoding: body, as: UTF8.self) }
    public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    public var isJSON: Bool { headers["content-type"]?.hasPrefix("application/json") == true && json != nil }

    public var description: String {
        "HTTP \(status) curl exit \(curlExit)\(curlError.isEmpty ? "" : " (\(curlError))") in \(String(format: "%.2f", seconds)) s: \(text.prefix(300))"
    }
}

/// A curl process running; many can run at once (each has its own files, no pipes to fill).
public final class CurlCall: @unchecked Sendable {
    public static let timeSecondsMax = 240
    private let child: ChildProcess
    private let scratch: String
    private let bodyPath: String
    private let keepsBody: Bool
    private let started = ContinuousClock.now

    /// Starts `curl -sS <arguments>`; the body goes to `bodyTo` when given (and is not read back).
    /// Header, body and error files go to `scratch` and are removed by ``wait()``.
    public init(_ arguments: [String], scratch directory: String = NSTemporaryDirectory(), bodyTo: String? = nil) throws {
        scratch = "\(directory)/curl-\(UUID().uuidString)"
        bodyPath = bodyTo ?? scratch + ".body"
        keepsBody = bodyTo == nil
        _ = FileManager.default.createFile(atPath: scratch + ".err", contents: nil)
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch + ".err"))
        defer { try? err.close() }
        let hasMaxTime = arguments.contains("--max-time") || arguments.contains("-m")
        child = try ChildProcess("/usr/bin/curl",
                                 ["-sS", "--globoff", "-D", scratch + ".head", "-o", bodyPath]
                                     + (hasMaxTime ? [] : ["--max-time", "\(Self.timeSecondsMax)"]) + arguments,
                                 stderr: err)
    }

    /// A call abandoned by a failing test must not outlive it.
    deinit { child.killNow() }

    /// Waits for curl (bounded by its --max-time) and collects the exchange.
    public func wait() async -> CurlResult {
        let exit = await child.exitStatus()
        let elapsed = ContinuousClock.now - started
        defer {
            unlink(scratch + ".head")
            unlink(scratch + ".err")
            if keepsBody { unlink(bodyPath) }
        }
        let (status, headers) = Self.parseLastResponse(readText(scratch + ".head"))
        return CurlResult(status: status, headers: headers,
                          body: keepsBody ? FileManager.default.contents(atPath: bodyPath) ?? Data() : Data(),
                          curlExit: exit, curlError: readText(scratch + ".err").trimmingCharacters(in: .whitespacesAndNewlines),
                          seconds: elapsed.secondsValue)
    }

    private static func parseLastResponse(_ head: String) -> (Int, [String: String]) {
        var status = 0
        var headers: [String: String] = [:]
        for line in head.components(separatedBy: "\r\n") {
            if line.hasPrefix("HTTP/") {
                status = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
                headers = [:]
            } else if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return (status, headers)
    }
}

/// Runs one curl exchange to its end.
public func curl(_ arguments: [String], scratch: String = NSTemporaryDirectory(), bodyTo: String? = nil) async throws -> CurlResult {
    try await CurlCall(arguments, scratch: scratch, bodyTo: bodyTo).wait()
}

/// Writes `size` random bytes (from /dev/urandom, by `head -c`) to `path`.
public func makeRandomFile(_ path: String, size: Int) async throws {
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    let child = try ChildProcess("/usr/bin/head", ["-c", "\(size)", "/dev/urandom"], stdout: out)
    try out.close()
    let status = await child.exitStatus()
    let written = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
    guard status == 0, written == size else { throw TestSupportFailure(description: "head -c \(size) wrote \(written ?? -1) bytes, exit \(status)") }
}

/// Whether two files hold the same bytes, by `cmp` (exit 0 same, 1 different, 2 trouble,
/// which throws).
public func sameBytes(_ a: String, _ b: String, scratch: String = NSTemporaryDirectory()) async throws -> Bool {
    let result = try await runProgram("/usr/bin/cmp", [a, b], in: scratch)
    if result.status > 1 { throw TestSupportFailure(description: "cmp \(a) \(b): \(result.stderr)") }
    return result.status == 0
}

/// Bytes `range` of a file.
public func fileBytes(_ path: String, _ range: Range<Int>) throws -> Data {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(range.lowerBound))
    return try handle.read(upToCount: range.count) ?? Data()
}

public func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
}

/// CRC32C of a file, read 4 MiB at a time.
public func fileCRC32C(_ path: String) throws -> UInt32 {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    var crc = CRC32C()
    while let data = try handle.read(upToCount: 4 << 20), !data.isEmpty {
        data.withUnsafeBytes { crc.update($0) }
    }
    return crc.value
}

/// A helper that could not do its part (a program failed, a file came out wrong).
public struct TestSupportFailure: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}
