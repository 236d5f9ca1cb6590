import FlareHTTP
import FlareIO
import FlareTestSupport
import Testing

/// Request-smuggling shapes on the wire: each is refused with 400, the connection is closed
/// (``rawExchange`` returns only at the server's end of stream), and the request sent after it
/// on the same connection — what a front proxy that read the framing otherwise would pass on
/// as the next request — is never served.
@Suite("Request smuggling shapes are refused")
struct SmugglingTests {
    struct Shape: CustomTestStringConvertible, Sendable {
        let name: String
        let request: String
        var testDescription: String { name }
    }

    static let smuggled = "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n"

    static let shapes: [Shape] = [
        Shape(name: "CL + TE", request: "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        Shape(name: "TE + CL", request: "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n"),
        Shape(name: "duplicate CL, different values", request: "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 33\r\n\r\n"),
        Shape(name: "CL list", request: "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 0, 33\r\n\r\n"),
        Shape(name: "CL with a sign", request: "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: +0\r\n\r\n"),
        Shape(name: "TE obfuscated: xchunked", request: "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
        Shape(name: "TE obfuscated: space before the colon", request: "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
        Shape(name: "TE obfuscated: vertical tab", request: "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\u{0B}chunked\r\n\r\n0\r\n\r\n"),
        Shape(name: "TE obfuscated: quoted", request: "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n"),
        Shape(name: "TE obfuscated: chunked, then another TE line", request: "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n"),
        Shape(name: "TE in HTTP/1.0", request: "POST /echo HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        Shape(name: "bare LF line ends", request: "POST /echo HTTP/1.1\nHost: h\nContent-Length: 0\n\n"),
        Shape(name: "bare CR in a header", request: "GET /hello HTTP/1.1\r\nHost: h\r\nX-A: 1\rContent-Length: 33\r\n\r\n"),
        Shape(name: "obs-fold", request: "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n"),
        Shape(name: "NUL in a header value", request: "GET /hello HTTP/1.1\r\nHost: h\r\nX-A: a\u{0}b\r\n\r\n"),
        Shape(name: "chunk size with junk after it", request: "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x0\r\n\r\n"),
    ]

    @Test("refused with 400, connection closed, the next request never served", arguments: shapes, testedEngines)
    func refused(shape: Shape, kind: IOEngineKind) async throws {
        try await withEchoServer(kind) { address, loop in
            let answer = try await rawExchange(address, shape.request + Self.smuggled, on: loop)
            #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(shape.name): \(answer.prefix(200).debugDescription)")
            #expect(answer.contains("Connection: close"), "\(shape.name): \(answer.prefix(300).debugDescription)")
            #expect(answer.components(separatedBy: "HTTP/1.1 ").count == 2, "\(shape.name): more than one answer: \(answer.debugDescription)")
            #expect(!answer.contains("hello\n"), "\(shape.name): the smuggled request was served")
        }
    }
}
