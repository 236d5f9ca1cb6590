@testable import FlareAuth
import Testing

/// Signing and verifying requests to data nodes, at instants the test chooses: no sockets.
@Suite("Signed requests")
struct RequestSignatureTests {
    static let secretA = String(repeating: "a1", count: 32)
    static let secretB = String(repeating: "b2", count: 32)
    static let now: Int64 = 1_800_000_000

    static func keyring(_ lines: String...) throws -> Reloadable<ClusterKeyring> {
        Reloadable(try ClusterKeyring(files: [(source: "secrets", text: lines.joined(separator: "\n"))]))
    }

    /// The headers of one request, as a data node sees them (names in any case).
    struct Request {
        var method = "PUT"
        var target = "/chunk/0123456789abcdef0123456789abcdef"
        var fields: [(String, String)] = [("Content-Length", "4096"), ("X-Flare-Checksum", "crc32c=0badf00d"),
                                          ("X-Flare-Node-Id", "fedcba9876543210fedcba9876543210")]

        func values(_ name: String) -> [String] { fields.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }

        /// Signed by `signer` at `time`, with `nonce` when given.
        func signed(_ signer: RequestSigner, time: Int64, nonce: RequestNonce = .random()) -> Request {
            var copy = self
            copy.fields.append(("Authorization", signer.authorization(method: method, target: target, header: { values($0).first },
                                                                      time: time, nonce: nonce)))
            return copy
        }

        func replacing(_ name: String, with value: String) -> Request {
            var copy = self
            copy.fields = fields.map { $0.0.lowercased() == name.lowercased() ? ($0.0, value) : $0 }
            return copy
        }
    }

    func verify(_ request: Request, _ verifier: RequestVerifier, now: Int64 = now) -> Result<String, RequestAuthError> {
        Result(catching: { () throws(RequestAuthError) -> String in
            try verifier.verify(method: request.method, target: request.target, headers: request.values, now: now)
        })
    }

    @Test("a request signed with the secret is accepted once; sent again it is a replay (403)")
    func acceptedThenReplayed() throws {
        let keys = try Self.keyring(Self.secretA)
        let verifier = RequestVerifier(keyring: keys)
        let request = Request().signed(RequestSigner(keyring: keys), time: Self.now)
        #expect(verify(request, verifier) == .success(keys.current.signing.keyID))
        #expect(verify(request, verifier, now: Self.now + 10) == .failure(.replayed))
        #expect(RequestAuthError.replayed.status == 403)
        // Another nonce, the same everything else: a new request.
        #expect(verify(Request().signed(RequestSigner(keyring: keys), time: Self.now), verifier) == .success(keys.current.signing.keyID))
    }

    @Test("unsigned, another scheme, a garbled header, a header sent twice: 401 before anything is checked")
    func malformed() throws {
        let keys = try Self.keyring(Self.secretA)
        let verifier = RequestVerifier(keyring: keys)
        #expect(verify(Request(), verifier) == .failure(.missing))
        let good = Request().signed(RequestSigner(keyring: keys), time: Self.now)
        let value = good.values("authorization")[0]
        for broken in ["Bearer abc", "Flare-HMAC-SHA256", value.replacingOccurrences(of: "Key=", with: "Kee="),
                       value + ", Extra=1", value.replacingOccurrences(of: "Time=", with: "Time=-"),
                       value.uppercased(), String(value.dropLast(2))] {
            #expect(verify(good.replacing("Authorization", with: broken), verifier) == .failure(.malformed), "\(broken)")
        }
        var twice = good
        twice.fields.append(("authorization", value))
        #expect(verify(twice, verifier) == .failure(.duplicateHeader("Authorization")))
        var twoChecksums = good
        twoChecksums.fields.append(("X-Flare-Checksum", "crc32c=00000000"))
        #expect(verify(twoChecksums, verifier) == .failure(.duplicateHeader("x-flare-checksum")))
        for error in [RequestAuthError.missing, .malformed, .duplicateHeader("x"), .unknownKey("x", known: []), .badSignature(keyID: "x")] {
            #expect(error.status == 401)
        }
    }

    @Test("the signature covers method, target, length, checksum, node id and range: change one and it fails (401)")
    func everySignedPartMatters() throws {
        let keys = try Self.keyring(Self.secretA)
        let verifier = RequestVerifier(keyring: keys)
        let signer = RequestSigner(keyring: keys)
        let good = Request().signed(signer, time: Self.now)
        let keyID = keys.current.signing.keyID
        var changed: [(String, Request)] = []
        var method = good
        method.method = "DELETE"
        changed.append(("method", method))
        var target = good
        target.target = "/chunk/0123456789abcdef0123456789abcdee"
        changed.append(("target", target))
        var query = good
        query.target += "?x=1"
        changed.append(("query", query))
        changed.append(("length", good.replacing("Content-Length", with: "4095")))
        changed.append(("checksum", good.replacing("X-Flare-Checksum", with: "crc32c=0badf00e")))
        changed.append(("node id", good.replacing("X-Flare-Node-Id", with: "fedcba9876543210fedcba9876543211")))
        var removed = good
        removed.fields.removeAll { $0.0 == "X-Flare-Node-Id" }
        changed.append(("node id removed", removed))
        var ranged = good
        ranged.fields.append(("Range", "bytes=0-9"))
        changed.append(("range added", ranged))
        let value = good.values("authorization")[0]
        let time = value.replacingOccurrences(of: "Time=\(Self.now)", with: "Time=\(Self.now + 1)")
        changed.append(("time", good.replacing("Authorization", with: time)))
        for (what, request) in changed {
            #expect(verify(request, verifier) == .failure(.badSignature(keyID: keyID)), "\(what)")
        }
        // Unsigned headers may change: they do not alter what is done to the chunk.
        var other = good
        other.fields.append(("User-Agent", "curl"))
        #expect(verify(other, verifier) == .success(keyID))
    }

    @Test("a wrong secret is refused by its key id; a forged key id with a wrong secret is a bad signature")
    func wrongSecret() throws {
        let keys = try Self.keyring(Self.secretA)
        let other = try Self.keyring(Self.secretB)
        let verifier = RequestVerifier(keyring: keys)
        let request = Request().signed(RequestSigner(keyring: other), time: Self.now)
        #expect(verify(request, verifier) == .failure(.unknownKey(other.current.signing.keyID, known: keys.current.keyIDs)))
        let forged = request.values("authorization")[0].replacingOccurrences(of: other.current.signing.keyID, with: keys.current.signing.keyID)
        #expect(verify(request.replacing("Authorization", with: forged), verifier)
            == .failure(.badSignature(keyID: keys.current.signing.keyID)))
    }

    @Test("outside the window either way: stale (403), at its edges: accepted")
    func window() throws {
        let keys = try Self.keyring(Self.secretA)
        let verifier = RequestVerifier(keyring: keys, clockSkewSecondsMax: 300)
        let signer = RequestSigner(keyring: keys)
        for offset: Int64 in [-301, 301, -86400] {
            let result = verify(Request().signed(signer, time: Self.now + offset), verifier)
            #expect(result == .failure(.stale(time: Self.now + offset, now: Self.now, windowSeconds: 300)), "\(offset)")
        }
        for offset: Int64 in [-300, 0, 300] {
            #expect((try? verify(Request().signed(signer, time: Self.now + offset), verifier).get()) != nil, "\(offset)")
        }
        #expect(RequestAuthError.stale(time: 0, now: 0, windowSeconds: 1).status == 403)
    }

    @Test("rotation: a keyring of new and old verifies both and signs with the first; without the old, the old is refused")
    func rotation() throws {
        let old = try Self.keyring(Self.secretA)
        let both = try Self.keyring(Self.secretB, Self.secretA)
        // The data node's keyring is its own (the signers' are the api's).
        let verifier = RequestVerifier(keyring: Reloadable(old.current))
        let oldSigner = RequestSigner(keyring: old), newSigner = RequestSigner(keyring: both)
        #expect(both.current.signing.keyID == (try Self.keyring(Self.secretB)).current.signing.keyID)
        #expect((try? verify(Request().signed(oldSigner, time: Self.now), verifier).get()) != nil)
        #expect(verify(Request().signed(newSigner, time: Self.now), verifier).isFailure)
        // The data node takes both (a reload), then the api signs with the new one.
        verifier.keyring.replace(both.current)
        #expect((try? verify(Request().signed(oldSigner, time: Self.now), verifier).get()) != nil)
        #expect((try? verify(Request().signed(newSigner, time: Self.now), verifier).get()) != nil)
        // The old one is removed.
        verifier.keyring.replace(try ClusterKeyring(files: [(source: "new", text: Self.secretB)]))
        #expect(verify(Request().signed(oldSigner, time: Self.now), verifier).isFailure)
        #expect((try? verify(Request().signed(newSigner, time: Self.now), verifier).get()) != nil)
    }
}

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
