import FlareHTTP
import FlareIO
import FlareTestSupport
import Testing

/// The idle timeout on real sockets, short enough to wait for (``ConnectionTimerTests``
/// checks the decision itself at exact instants).
@Suite("HTTP server: idle timeout")
struct IdleTimeoutTests {
    @Test("a kept-alive connection is closed after its idle second, with no 408", arguments: testedEngines)
    func keptAliveConnectionClosed(kind: IOEngineKind) async throws {
        var limits = HTTPLimits()
        limits.idleTimeoutSeconds = 1
        try await withEchoServer(kind, limits: limits) { address, loop in
            // rawExchange reads until the server closes, each wait bounded at 10 s (a hang guard:
            // with the default 60 s idle timeout it throws).
            let answer = try await rawExchange(address, "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n", on: loop)
            #expect(answer.hasPrefix("HTTP/1.1 200 ") && answer.hasSuffix("hello\n"), "\(answer)")
            #expect(answer.components(separatedBy: "HTTP/1.1 ").count == 2, "more than one response: \(answer)")
            let silent = try await rawExchange(address, "", on: loop)
            #expect(silent.isEmpty, "a connection that never sent a byte was answered: \(silent)")
        }
    }
}
