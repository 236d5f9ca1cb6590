import FlareAdmin
import Testing

@Suite("--api URLs")
struct APIEndpointTests {
    @Test("http URLs and bare host:port parse to a host and port", arguments: [
        ("http://127.0.0.1:8000", "127.0.0.1", 8000), ("http://127.0.0.1:8000/", "127.0.0.1", 8000),
        ("127.0.0.1:9000", "127.0.0.1", 9000), ("http://localhost", "localhost", 80), ("HTTP://[::1]:8080", "::1", 8080),
        ("http://flare-api.internal:8000", "flare-api.internal", 8000),
    ] as [(String, String, Int)])
    func parses(text: String, host: String, port: Int) throws {
        let endpoint = try APIEndpoint(parsing: text)
        #expect(endpoint.host == host && Int(endpoint.port) == port)
        #expect(!endpoint.text.hasSuffix("/"))
    }

    @Test("other schemes, paths, no host or a bad port are refused, naming the URL", arguments: [
        "https://127.0.0.1:8000", "http://127.0.0.1:8000/admin", "http://:8000", "http://127.0.0.1:0", "http://127.0.0.1:99999",
        "http://user@127.0.0.1:8000", "",
    ])
    func refuses(text: String) {
        do {
            _ = try APIEndpoint(parsing: text)
            Issue.record("'\(text)' parsed")
        } catch {
            guard case .badAPIURL(let named, _) = error else { Issue.record("\(error)"); return }
            #expect(named == text)
        }
    }

    @Test("numeric hosts and localhost resolve without the resolver; a name that does not exist is unreachable")
    func resolves() throws {
        #expect(try APIEndpoint(parsing: "http://localhost:8000").resolve().description == "127.0.0.1:8000")
        #expect(try APIEndpoint(parsing: "http://[::1]:8000").resolve().description == "[::1]:8000")
        do {
            _ = try APIEndpoint(parsing: "http://no-such-host.invalid:8000").resolve()
            Issue.record("a .invalid name resolved")
        } catch {
            guard case .unreachable(let api, let reason) = error else { Issue.record("\(error)"); return }
            #expect(api == "http://no-such-host.invalid:8000" && reason.contains("cannot resolve no-such-host.invalid"))
        }
    }
}
