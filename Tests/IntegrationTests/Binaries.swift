import FlareIO
import Foundation

/// Engines every integration test runs on; io_uring is dropped, with the reason printed,
/// where this kernel or container refuses it.
let testedEngines: [IOEngineKind] = {
    if let reason = IOEngineKind.auto.resolved().fallbackReason {
        print("note: io_uring integration tests skipped: \(reason)")
        return [.epoll]
    }
    return [.uring, .epoll]
}()

/// The package root: this file is `<root>/Tests/IntegrationTests/Binaries.swift`.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A `datanode` or `api` executable that is not there.
struct MissingBinary: Error, CustomStringConvertible {
    let name: String
    let path: String
    var description: String {
        "no \(name) executable at \(path): build first (`swift build`), or set FLARE_BIN_DIR to the directory "
            + "holding the built api and datanode (e.g. FLARE_BIN_DIR=.build-api/debug for --scratch-path .build-api)"
    }
}

/// `$FLARE_BIN_DIR/<name>` when FLARE_BIN_DIR is set, else `<root>/.build/debug/<name>`.
func executable(_ name: String) throws -> String {
    let directory = ProcessInfo.processInfo.environment["FLARE_BIN_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        ?? "\(packageRoot)/.build/debug"
    let path = "\(directory)/\(name)"
    guard FileManager.default.isExecutableFile(atPath: path) else { throw MissingBinary(name: name, path: path) }
    return path
}
