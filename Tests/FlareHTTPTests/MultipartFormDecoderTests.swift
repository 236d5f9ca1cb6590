import FlareHTTP
import FlareTestSupport
import Testing

/// What a decoded body held: each part's head and content, and whether it ended.
private struct Decoded: Equatable {
    var parts: [(head: MultipartPartHead, content: [UInt8])] = []
    var complete = false

    static func == (a: Decoded, b: Decoded) -> Bool {
        a.complete == b.complete && a.parts.count == b.parts.count
            && zip(a.parts, b.parts).allSatisfy { $0.head == $1.head && $0.content == $1.content }
    }
}

/// Feeds `body` in the pieces `cuts` make, as a reader does: unconsumed bytes are kept and
/// presented again with the next piece.
private func decode(_ body: [UInt8], boundary: String, cuts: [Int] = []) throws -> Decoded {
    var decoder = try MultipartFormDecoder(boundary: boundary)
    var decoded = Decoded()
    var pending: [UInt8] = []
    var open = false
    let edges = [0] + cuts.filter { $0 > 0 && $0 < body.count }.sorted() + [body.count]
    for index in 1..<edges.count {
        pending += body[edges[index - 1]..<edges[index]]
        let isFinal = index == edges.count - 1
        var events: [MultipartFormDecoder.Event] = []
        let consumed = try pending.withUnsafeBytes { bytes in try decoder.decode(bytes, isFinal: isFinal, into: &events) }
        for event in events {
            switch event {
            case .part(let head):
                #expect(!open, "a part starts inside another")
                decoded.parts.append((head, []))
                open = true
            case .data(let range):
                #expect(open, "data outside a part")
                decoded.parts[decoded.parts.count - 1].content += pending[range]
            case .partEnd:
                open = false
            case .end:
                decoded.complete = true
            }
        }
        #expect(consumed <= pending.count)
        pending.removeFirst(consumed)
    }
    return decoded
}

private func body(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A body as curl -F builds it: a text field, then a file.
private func formBody(boundary: String, file: [UInt8], filename: String = "a.bin", preamble: String = "", epilogue: String = "") -> [UInt8] {
    body(preamble) + body("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n")
        + body("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: application/octet-stream\r\n\r\n")
        + file + body("\r\n--\(boundary)--\r\n" + epilogue)
}

@Suite("multipart/form-data decoder: streamed, every split")
struct MultipartFormDecoderTests {
    @Test("a text field and a file, split at every offset and fed a byte at a time, decode the same")
    func everySplit() throws {
        let boundary = "------------------------d74496d66958873e"
        // Content that looks like the delimiter's start, at its edges too.
        let file = body("\r\n--------\r\n-") + [0, 255, 13, 10] + body("\r\n--" + boundary.dropLast()) + body("\r")
        let whole = formBody(boundary: boundary, file: file, preamble: "ignored preamble\r\n", epilogue: "ignored epilogue")
        let expected = try decode(whole, boundary: boundary)
        #expect(expected.complete)
        #expect(expected.parts.map(\.head) == [MultipartPartHead(name: "note"),
                                               MultipartPartHead(name: "file", filename: "a.bin", contentType: "application/octet-stream")])
        #expect(expected.parts.map(\.content) == [body("hello"), file])
        for cut in 0...whole.count {
            #expect(try decode(whole, boundary: boundary, cuts: [cut]) == expected, "split at \(cut)")
        }
        #expect(try decode(whole, boundary: boundary, cuts: Array(0...whole.count)) == expected, "a byte at a time")
    }

    @Test("random contents and random splits, seeded: what goes in comes out", arguments: 0..<40)
    func randomSplits(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let boundary = "b" + String(Int.random(in: 0..<1_000_000, using: &random))
        // Bytes drawn from a few that build near-delimiters often.
        let alphabet = body("\r\n-b0123456789x")
        let file = (0..<Int.random(in: 0..<3000, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
        let whole = formBody(boundary: boundary, file: file)
        let cuts = (0..<Int.random(in: 0..<20, using: &random)).map { _ in Int.random(in: 0...whole.count, using: &random) }
        let decoded = try decode(whole, boundary: boundary, cuts: cuts)
        #expect(decoded.complete, "seed \(seed)")
        #expect(decoded.parts.last?.content == file, "seed \(seed), cuts \(cuts)")
    }

    @Test("an empty file, a first boundary without preamble, filename* and quoted names")
    func edges() throws {
        let boundary = "x"
        let whole = body("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"q\\\".txt\"; filename*=UTF-8''%E2%82%AC.txt\r\n\r\n\r\n--x--")
        let decoded = try decode(whole, boundary: boundary)
        #expect(decoded.complete)
        #expect(decoded.parts.count == 1)
        #expect(decoded.parts.first?.head == MultipartPartHead(name: "file", filename: "€.txt"))
        #expect(decoded.parts.first?.content == [])
        let quoted = try decode(body("--x\r\ncontent-disposition: FORM-DATA; NAME=\"a;b\"; filename=\"c \\\"d\\\"\"\r\n\r\n1\r\n--x--"), boundary: "x")
        #expect(quoted.parts.first?.head == MultipartPartHead(name: "a;b", filename: "c \"d\""))
        #expect(try MultipartFormDecoder.boundary(ofContentType: "multipart/form-data; boundary=\"a b\"") == "a b")
        #expect(try MultipartFormDecoder.boundary(ofContentType: "application/octet-stream") == nil)
        #expect(throws: HTTPParseError.self) { try MultipartFormDecoder.boundary(ofContentType: "multipart/form-data") }
        #expect(throws: HTTPParseError.self) { try MultipartFormDecoder(boundary: String(repeating: "b", count: 71)) }
    }

    @Test("malformed bodies are refused with 400, at every split",
          arguments: [
              ("no boundary at all", "just bytes"),
              ("ends inside the file", "--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc"),
              ("ends before the close", "--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--x"),
              ("ends inside a head", "--x\r\nContent-Disposition: form-da"),
              ("a head line without a colon", "--x\r\nContent-Disposition form-data\r\n\r\nabc\r\n--x--"),
              ("a part without Content-Disposition", "--x\r\nContent-Type: text/plain\r\n\r\nabc\r\n--x--"),
              ("a part without a head", "--x\r\n\r\nabc\r\n--x--"),
              ("junk after a boundary", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc\r\n--xjunk\r\n"),
          ])
    func malformed(_ what: String, _ text: String) throws {
        let whole = body(text)
        for cut in 0...whole.count {
            #expect(throws: HTTPParseError.self, "\(what), split at \(cut)") { _ = try decode(whole, boundary: "x", cuts: [cut]) }
        }
        do {
            _ = try decode(whole, boundary: "x")
        } catch let error as HTTPParseError {
            #expect(error.status == 400)
            #expect(error.message.hasPrefix("malformed multipart/form-data body"), "\(what): \(error.message)")
        }
    }

    @Test("a head longer than the limit is refused, however it is split")
    func longHead() throws {
        let whole = body("--x\r\nContent-Disposition: form-data; name=\"" + String(repeating: "n", count: MultipartFormDecoder.partHeadBytesMax) + "\"\r\n\r\nabc\r\n--x--")
        #expect(throws: HTTPParseError.self) { _ = try decode(whole, boundary: "x") }
        #expect(throws: HTTPParseError.self) { _ = try decode(whole, boundary: "x", cuts: [100, 9000]) }
    }
}
