@testable import FlareHTTP
import Testing

func parseRequest(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HTTPHeadParser.Result<HTTPRequestHead> {
    var bytes = Array(text.utf8)
    return bytes.withUnsafeMutableBytes { HTTPHeadParser.parseRequest(UnsafeRawBufferPointer($0), limits: limits) }
}

/// The status a head is refused with, 0 when it parses, -1 when it is incomplete.
func status(_ text: String, limits: HTTPLimits = HTTPLimits()) -> Int {
    switch parseRequest(text, limits: limits) {
    case .complete: return 0
    case .incomplete: return -1
    case .failed(let error): return error.status
    }
}

@Suite("HTTP head parser")
struct HeadParserTests {
    @Test("requests as curl, wget, browsers and SDKs send them")
    func validShapes() throws {
        let valid = [
            "GET / HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
            "PUT /object/a/b%20c HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
            "PUT /object/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
            "PUT /o HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n",
            "GET /objects?prefix=a&limit=10 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
            "HEAD /object/k HTTP/1.0\r\n\r\n",
            "DELETE /object/k HTTP/1.1\r\nhost: h\r\nx-empty:\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
            "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Weird-Value: caf\u{e9} \t ok\r\n\r\n",
        ]
        for text in valid {
            #expect(status(text) == 0, "\(text.debugDescription)")
        }
        guard case .complete(let head, let consumed) = parseRequest("PUT /object/a%2Fb?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length:  12 \r\n\r\nbody") else {
            Issue.record("did not parse"); return
        }
        #expect(head.method == "PUT" && head.target == "/object/a%2Fb?x=1" && head.path == "/object/a%2Fb")
        #expect(head.query == "x=1" && head.headers["content-length"] == "12" && head.keepAlive)
        #expect(consumed == "PUT /object/a%2Fb?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length:  12 \r\n\r\n".utf8.count)
        #expect(try HTTPBodyFraming.forRequest(head) == .length(12))
    }

    @Test("incomplete heads ask for more")
    func incomplete() {
        #expect(status("GET / HTTP/1.1\r\nHost: h\r\n") == -1)
        #expect(status("GET / HTTP/1.1\r") == -1)
        #expect(status("") == -1)
    }

    /// Every hostile or malformed head and the status it must get.
    static let hostile: [(String, String, Int)] = [
        ("no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400),
        ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("CL and TE together (smuggling)", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("TE and CL together, reversed", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", 400),
        ("differing duplicate CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", 400),
        ("CL list with differing values", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4, 5\r\n\r\n", 400),
        ("negative CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
        ("CL with plus sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400),
        ("CL overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
        ("CL hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400),
        ("empty CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400),
        ("TE not ending in chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("TE gzip, chunked (unsupported coding)", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("TE with junk", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
        ("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  continued\r\n\r\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\n", 400),
        ("no colon", "GET / HTTP/1.1\r\nHost: h\r\nJustAName\r\n\r\n", 400),
        ("empty field name", "GET / HTTP/1.1\r\nHost: h\r\n: value\r\n\r\n", 400),
        ("bare LF line ends", "GET / HTTP/1.1\nHost: h\n\n", 400),
        ("bare CR", "GET / HTTP/1.1\rHost: h\r\n\r\n", 400),
        ("NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{0}b\r\n\r\n", 400),
        ("DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{7f}b\r\n\r\n", 400),
        ("request line with extra spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("request line with four parts", "GET / x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400),
        ("HTTP/2.0 on this port", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        ("HTTP/0.9 style", "GET /\r\n\r\n", 400),
        ("absolute-form target with user information", "GET http://user@evil/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("absolute-form target without a host", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("a URL of another scheme", "GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("control character in target", "GET /a\u{1}b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("non-ASCII target bytes", "GET /caf\u{e9} HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("method with a slash", "GE/T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("binary garbage", "\u{16}\u{3}\u{1}\u{0}\u{a5}\u{1}\r\n\r\n", 400),
        ("TLS hello-ish", "\u{16}\u{3}\u{1}\r\n\r\n", 400),
        ("target too long", "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: h\r\n\r\n", 414),
        ("head too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "a", count: 17000) + "\r\n\r\n", 431),
        ("head too large, unterminated", "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "a", count: 17000), 431),
        ("too many header fields", "GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "X-A: 1\r\n", count: 101) + "\r\n", 431),
    ]

    @Test("absolute-form targets (RFC 9112 §3.2.2) become their path, and their authority the Host",
          arguments: [("GET http://node:8000/object/a%2Fb?x=1 HTTP/1.1", "/object/a%2Fb?x=1", "node:8000"),
                      ("GET HTTPS://Node/ HTTP/1.1", "/", "Node"),
                      ("GET http://h HTTP/1.1", "/", "h"),
                      ("GET http://h?list-type=2 HTTP/1.1", "/?list-type=2", "h")])
    func absoluteForm(line: String, path: String, host: String) {
        guard case .complete(let head, _) = parseRequest(line + "\r\nHost: other\r\n\r\n") else {
            Issue.record("\(line) refused")
            return
        }
        #expect(head.target == path && head.headers["Host"] == host && head.headers.values("Host").count == 1, "\(line)")
    }

    @Test("malformed and hostile heads get the right status", arguments: hostile)
    func hostileHeads(name: String, text: String, expected: Int) {
        #expect(status(text) == expected, "\(name)")
    }

    @Test("response heads parse with their framing")
    func responses() throws {
        var bytes = Array("HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\n\r\n".utf8)
        let result = bytes.withUnsafeMutableBytes { HTTPHeadParser.parseResponse(UnsafeRawBufferPointer($0)) }
        guard case .complete(let head, _) = result else { Issue.record("no parse"); return }
        #expect(head.status == 206 && head.reason == "Partial Content")
        #expect(try HTTPBodyFraming.forResponse(head, method: "GET") == .length(10))
        #expect(try HTTPBodyFraming.forResponse(head, method: "HEAD") == .length(0))
        var bad = Array("HTTP/1.1 2x0 OK\r\n\r\n".utf8)
        let refused = bad.withUnsafeMutableBytes { HTTPHeadParser.parseResponse(UnsafeRawBufferPointer($0)) }
        guard case .failed = refused else { Issue.record("accepted a bad status"); return }
    }
}

@Suite("Chunked body framing")
struct ChunkedDecoderTests {
    /// Decodes a whole chunked body fed in pieces of `step` bytes.
    static func decode(_ text: String, step: Int) throws -> [UInt8] {
        let input = Array(text.utf8)
        var decoder = ChunkedBodyDecoder()
        var output: [UInt8] = []
        var pending: [UInt8] = []
        var fed = 0
        while decoder.phase != .done {
            if decoder.phase == .data {
                if pending.isEmpty {
                    guard fed < input.count else { throw HTTPParseError(status: 400, "truncated") }
                    pending.append(contentsOf: input[fed..<min(input.count, fed + step)]); fed = min(input.count, fed + step)
                }
                let take = min(pending.count, decoder.chunkRemaining)
                output.append(contentsOf: pending[0..<take]); pending.removeFirst(take)
                decoder.consumedData(take)
                continue
            }
            let consumed = try pending.withUnsafeBytes { try decoder.consumeFraming($0) }
            pending.removeFirst(consumed)
            if decoder.phase != .data && decoder.phase != .done {
                guard fed < input.count else { throw HTTPParseError(status: 400, "truncated") }
                pending.append(contentsOf: input[fed..<min(input.count, fed + step)]); fed = min(input.count, fed + step)
            }
        }
        return output
    }

    @Test("valid chunked bodies decode the same for every split", arguments: [1, 2, 3, 7, 1000])
    func valid(step: Int) throws {
        #expect(try Self.decode("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n", step: step) == Array("hello world".utf8))
        #expect(try Self.decode("A\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n", step: step) == Array("0123456789".utf8))
        #expect(try Self.decode("0\r\n\r\n", step: step) == [])
    }

    @Test("bad chunk framing is refused", arguments: [
        "5\r\nhelloXX0\r\n\r\n",  // data not followed by CRLF
        "g\r\nx\r\n0\r\n\r\n",  // not hex
        "\r\nx\r\n0\r\n\r\n",  // missing size
        "-5\r\nhello\r\n0\r\n\r\n",  // negative
        "fffffffffffffffff\r\n",  // overflow
        "5\nhello\r\n0\r\n\r\n",  // bare LF
        "5 \r\nhello\r\n0\r\n\r\n",  // space after size
        "0x5\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n" + String(repeating: "0", count: 2000) + "1\r\n",  // size line too long
    ])
    func invalid(text: String) {
        #expect(throws: HTTPParseError.self) { _ = try Self.decode(text, step: 3) }
    }
}
