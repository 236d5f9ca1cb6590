import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// Many clients at once, and reads racing overwrites.
@Suite("Concurrent clients")
struct ConcurrencyTests {
    @Test("32 concurrent PUT/GET pairs of different objects are all byte-identical", arguments: testedEngines)
    func concurrentPairs(engine: IOEngineKind) async throws {
        try await withCluster(engine, "pairs", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let count = 32
            var files: [String] = []
            for index in 0..<count {
                // 0 … ~1.3 MiB: empty, sub-chunk and many-chunk objects side by side.
                files.append(try await cluster.randomFile("pair-\(index)", size: index * 41_017))
            }
            let failures = try await withThrowingTaskGroup(of: String?.self) { group in
                for (index, file) in files.enumerated() {
                    group.addTask {
                        let key = "pairs/\(index)"
                        let put = try await cluster.put(key, file: file)
                        guard put.status == 201 else { return "PUT \(key): \(put)" }
                        let out = file + ".out"
                        let get = try await cluster.get(key, to: out)
                        guard get.status == 200, get.curlExit == 0 else { return "GET \(key): \(get)" }
                        guard try await sameBytes(file, out, scratch: cluster.scratch.tmp) else { return "\(key) came back different" }
                        return nil
                    }
                }
                var failures: [String] = []
                for try await failure in group { if let failure { failures.append(failure) } }
                return failures
            }
            #expect(failures.isEmpty, "\(failures.count) of \(count) pairs failed:\n\(failures.joined(separator: "\n"))")
            #expect(try await cluster.listKeys(prefix: "pairs/").count == count)
        }
    }

    @Test("a GET during overwrites returns the old or the new bytes, never a mix", arguments: testedEngines)
    func readsDuringOverwrite(engine: IOEngineKind) async throws {
        // The default grace period keeps replaced chunks for reads that loaded the old manifest.
        try await withCluster(engine, "overwrite", apiOptions: ["--chunk-size", "64KiB"]) { cluster in
            let a = try await cluster.randomFile("A", size: 40 * 65536 + 100)
            let b = try await cluster.randomFile("B", size: 24 * 65536 + 7)
            let key = "hot/object"
            #expect(try await cluster.put(key, file: a).status == 201)
            let writes = 30
            let readsMax = 400
            async let writer: [String] = {
                var problems: [String] = []
                for round in 0..<writes {
                    let put = try await cluster.put(key, file: round % 2 == 0 ? b : a)
                    if put.status != 201 { problems.append("PUT \(round): \(put)") }
                }
                return problems
            }()
            let writerDone = Flag()
            async let reader: (reads: Int, sawA: Int, sawB: Int, problems: [String]) = {
                var reads = 0, sawA = 0, sawB = 0
                var problems: [String] = []
                while reads < readsMax && (reads < 10 || !writerDone.isSet) {
                    let out = "\(cluster.scratch.files)/read-\(reads)"
                    let get = try await cluster.get(key, to: out)
                    reads += 1
                    defer { unlink(out) }
                    guard get.status == 200, get.curlExit == 0 else {
                        problems.append("GET \(reads): \(get)")
                        continue
                    }
                    if try await sameBytes(out, a, scratch: cluster.scratch.tmp) {
                        sawA += 1
                    } else if try await sameBytes(out, b, scratch: cluster.scratch.tmp) {
                        sawB += 1
                    } else {
                        problems.append("GET \(reads): \(fileSize(out)) bytes that are neither A nor B")
                    }
                }
                return (reads, sawA, sawB, problems)
            }()
            let writeProblems = try await writer
            writerDone.set()
            let read = try await reader
            #expect(writeProblems.isEmpty, "\(writeProblems.joined(separator: "\n"))")
            #expect(read.problems.isEmpty, "\(read.problems.count) of \(read.reads) reads failed:\n\(read.problems.prefix(10).joined(separator: "\n"))")
            print("overwrite race (\(engine)): \(writes) writes, \(read.reads) reads: \(read.sawA) A, \(read.sawB) B")
        }
    }
}

/// A one-way flag shared between tasks.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
