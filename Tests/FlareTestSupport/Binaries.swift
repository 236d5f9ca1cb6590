import Foundation

/// The package root: this file is `<root>/Tests/FlareTestSupport/Binaries.swift`.
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// An `api` or `datanode` executable that is not there.
public struct MissingBinary: Error, CustomStringConvertible {
    public let name: String
    public let searched: [String]
    public var description: String {
        "no \(name) executable at \(searched.joined(separator: ", ")): build first (`swift build`), or set FLARE_BIN_DIR "
            + "to the directory holding the built api and datanode (e.g. FLARE_BIN_DIR=.build-api/debug for --scratch-path .build-api)"
    }
}

/// The built `name` (`api`, `datanode`): `$FLARE_BIN_DIR/<name>` when that is set; otherwise the
/// one next to the running test binary (the same build), then `<root>/.build/debug/<name>`.
public func builtExecutable(_ name: String) throws -> String {
    if let directory = ProcessInfo.processInfo.environment["FLARE_BIN_DIR"], !directory.isEmpty {
        let path = "\(directory)/\(name)"
        guard FileManager.default.isExecutableFile(atPath: path) else { throw MissingBinary(name: name, searched: [path]) }
        return path
    }
    var candidates: [String] = []
    if let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        candidates.append(URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent(name).path)
    }
    candidates.append("\(packageRoot)/.build/debug/\(name)")
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw MissingBinary(name: name, searched: candidates)
    }
    return found
}
