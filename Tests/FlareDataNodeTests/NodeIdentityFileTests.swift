import FlareCore
import FlareDataNode
import FlareTestSupport
import Foundation
import Testing

@Suite("Data node: node-id file, in process")
struct NodeIdentityFileTests {
    @Test("read finds nothing in a fresh directory; create writes the id and a newline, replacing a crash's leftover .tmp")
    func createThenRead() throws {
        let directory = try TestDirectory("id-file")
        defer { directory.remove() }
        #expect(try NodeIdentity.read(in: directory.data) == nil)
        let leftover = NodeIdentity.path(in: directory.data) + ".tmp"
        #expect(FileManager.default.createFile(atPath: leftover, contents: Data("half".utf8)))
        let id = try NodeIdentity.create(in: directory.data)
        #expect(try NodeIdentity.read(in: directory.data) == id)
        #expect(FileManager.default.contents(atPath: NodeIdentity.path(in: directory.data)) == Data("\(id)\n".utf8))
        #expect(!FileManager.default.fileExists(atPath: leftover))
        #expect(try NodeIdentity.create(in: directory.data) != id, "ids are random")
        let bare = NodeID.random()
        #expect(FileManager.default.createFile(atPath: NodeIdentity.path(in: directory.data), contents: Data(bare.description.utf8)))
        #expect(try NodeIdentity.read(in: directory.data) == bare, "an id without its newline is still the id")
    }

    @Test("malformed, unreadable and dangling node-id files throw, naming the file")
    func refusals() throws {
        let directory = try TestDirectory("id-file-bad")
        defer { directory.remove() }
        let path = NodeIdentity.path(in: directory.data)
        let id = NodeID.random().description
        for contents in ["", " \(id)", "\(id) ", "\(id)\n\n", id.uppercased(), String(id.dropLast()), String(repeating: "a", count: 4096)] {
            #expect(FileManager.default.createFile(atPath: path, contents: Data(contents.utf8)))
            #expect(throws: NodeIdentityError.malformed(path: path, found: Array(contents.utf8.prefix(257)))) {
                try NodeIdentity.read(in: directory.data)
            }
        }
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        do {
            _ = try NodeIdentity.read(in: directory.data)
            Issue.record("a directory named node-id was read")
        } catch {
            guard case .unreadable(let named, _) = error else { throw error }
            #expect(named == path && error.description.contains(path))
        }
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "\(directory.path)/gone")
        #expect(throws: NodeIdentityError.self, "a dangling symlink is not a first start") { try NodeIdentity.read(in: directory.data) }
    }
}
