@testable import FlareAuth
import Testing

/// Secret and token files as operators write them, and as they get them wrong.
@Suite("Credential files")
struct CredentialFileTests {
    static let secret = String(repeating: "0123456789abcdef", count: 4)

    @Test("secrets: comments and blank lines skipped, CRLF and spaces trimmed, the first signs, a repeat counts once")
    func keyringFromFiles() throws {
        let other = String(repeating: "fedcba9876543210", count: 2)
        let keyring = try ClusterKeyring(files: [(source: "new", text: "# new first\r\n\(other)\r\n\n  \(Self.secret)  \n"),
                                                 (source: "old", text: Self.secret + "\n")])
        #expect(keyring.secrets.count == 2)
        #expect(keyring.signing.keyID == (try ClusterSecret(Substring(other))).keyID)
        #expect(keyring.keyIDs.allSatisfy { $0.count == 8 && $0.allSatisfy(\.isHexDigit) })
        #expect(keyring.keyIDs[0] != keyring.keyIDs[1])
    }

    @Test("secrets: too short, two on a line, none at all: refused, naming the file and line")
    func badSecrets() {
        #expect(throws: CredentialFileError.self) { try ClusterKeyring(files: [(source: "f", text: "# nothing\n\n")]) }
        do {
            _ = try ClusterKeyring(files: [(source: "f", text: "# a comment\nshort\n")])
            Issue.record("a 5-character secret was taken")
        } catch {
            #expect(error.source == "f" && error.line == 2 && error.reason.contains("at least 32"), "\(error)")
            #expect(!error.description.contains("short"), "the message repeats the secret: \(error)")
        }
        do {
            _ = try ClusterKeyring(files: [(source: "f", text: "\(Self.secret) \(Self.secret)x\n")])
            Issue.record("two secrets on a line were taken as one")
        } catch {
            #expect(error.line == 1 && error.reason.contains("spaces"), "\(error)")
        }
    }

    @Test("bearer tokens: the right one accepted, a wrong, truncated, extended or missing one not; any of several")
    func tokens() throws {
        let tokens = try BearerTokens(parsing: "# admin\nthe-first-admin-token\nthe-second-admin-token\n", source: "admin")
        #expect(tokens.count == 2)
        #expect(tokens.check(authorization: "Bearer the-first-admin-token") == .accepted)
        #expect(tokens.check(authorization: "bearer the-second-admin-token") == .accepted)
        #expect(tokens.check(authorization: "Bearer the-first-admin-toke") == .wrong)
        #expect(tokens.check(authorization: "Bearer the-first-admin-tokenX") == .wrong)
        #expect(tokens.check(authorization: "Bearer " + String(repeating: "x", count: 21)) == .wrong)
        #expect(tokens.check(authorization: nil) == .missing)
        #expect(tokens.check(authorization: "Basic dXNlcjpwYXNz") == .missing)
        #expect(tokens.check(authorization: "Bearer ") == .missing)
    }

    @Test("bearer tokens: a short one, one with spaces, an empty file: refused, naming the line")
    func badTokens() {
        for (text, line) in [("tiny\n", 1), ("\n# c\nsome token with spaces\n", 3)] {
            do {
                _ = try BearerTokens(parsing: text, source: "t")
                Issue.record("\(text.debugDescription) was taken")
            } catch {
                #expect(error.line == line, "\(error)")
            }
        }
        #expect(throws: CredentialFileError.self) { try BearerTokens(parsing: "# none\n", source: "t") }
    }
}
