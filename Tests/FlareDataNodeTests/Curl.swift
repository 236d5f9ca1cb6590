import FlareCore
import Foundation
import Glibc
import Testing

/// What one curl exchange produced. Headers are those of the last response (after a
/// `100 Continue`), with lower-cased names.
struct HTTPResult: CustomStringConvertible {
    let status: Int
    let headers: [String: String]
    let body: Data
    let curlExit: Int32
    let curlError: String

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object, or `nil`.
    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }

    var description: String { "HTTP \(status) (curl exit \(curlExit) \(curlError)) \(text.prefix(300))" }
}

/// A curl process started and not yet waited for; each call has its own header, body and
/// stderr files, so many can run at once without pipes filling up.
final class CurlCall {
    static let timeSecondsMax = 180
    private let process = Process()
    private var exit: ExitSignal!
    private let scratch: String
    private let bodyPath: String
    private let keepsBody: Bool

    /// Starts `curl -sS <arguments>`; the body goes to `bodyTo` when given (and is then not read back).
    init(_ arguments: [String], bodyTo: String? = nil) throws {
        scratch = NSTemporaryDirectory() + "flare-dn-curl-\(UUID().uuidString)"
        bodyPath = bodyTo ?? scratch + ".body"
        keepsBody = bodyTo != nil
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "--max-time", "\(Self.timeSecondsMax)", "-D", scratch + ".head", "-o", bodyPath,
                             "--stderr", scratch + ".err"] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        exit = try ExitSignal(running: process)
    }

    /// Waits for curl (bounded by its `--max-time`) and collects the exchange.
    func wait() async -> HTTPResult {
        await exit.wait()
        process.waitUntilExit()
        defer {
            for suffix in [".head", ".err"] { unlink(scratch + suffix) }
            if !keepsBody { unlink(bodyPath) }
        }
        let head = String(decoding: FileManager.default.contents(atPath: scratch + ".head") ?? Data(), as: UTF8.self)
        let (status, headers) = Self.parseLastResponse(head)
        return HTTPResult(status: status, headers: headers,
                          body: keepsBody ? Data() : FileManager.default.contents(atPath: bodyPath) ?? Data(),
                          curlExit: process.terminationStatus,
                          curlError: String(decoding: FileManager.default.contents(atPath: scratch + ".err") ?? Data(), as: UTF8.self)
                              .trimmingCharacters(in: .whitespacesAndNewlines))
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

/// Runs one curl exchange to the end.
func curl(_ arguments: [String], bodyTo: String? = nil) async throws -> HTTPResult {
    try await CurlCall(arguments, bodyTo: bodyTo).wait()
}

extension DataNode {
    /// `PUT /chunk/<id>` of a file with `curl -T` (Content-Length from the file size).
    func put(_ id: ChunkID, _ payload: Payload, checksum: String? = nil, extra: [String] = []) async throws -> HTTPResult {
        try await curl(["-T", payload.path, "-H", checksum ?? payload.checksumHeader] + extra + [url(id)])
    }

    /// `GET /chunk/<id>`, body kept in memory (or written to `bodyTo`).
    func get(_ id: ChunkID, _ extra: [String] = [], bodyTo: String? = nil) async throws -> HTTPResult {
        try await curl(extra + [url(id)], bodyTo: bodyTo)
    }

    /// `GET <path>` on the node, e.g. `/metrics`.
    func get(path: String) async throws -> HTTPResult {
        try await curl([base + path])
    }

    /// The value of a metric line without labels, e.g. `flare_datanode_corrupt_chunks_total`.
    func metric(_ name: String) async throws -> Double? {
        let text = try await get(path: "/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
