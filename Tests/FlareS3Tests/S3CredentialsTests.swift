import Testing
@testable import FlareS3

@Suite struct S3CredentialsTests {
    @Test func pairsCommentsBlankLinesAndCRLF() throws {
        let credentials = try S3Credentials(parsing: "# keys for make run\n\nAKIA1 secret1\r\n  AKIA2\tsec/ret+2  \n")
        #expect(credentials.secret(for: "AKIA1") == "secret1")
        #expect(credentials.secret(for: "AKIA2") == "sec/ret+2")
        #expect(credentials.secret(for: "AKIA3") == nil)
        #expect(credentials.count == 2)
    }

    @Test(arguments: [
        ("AKIA1 s1\nAKIA2\n", 2, "expected ACCESS_KEY SECRET_KEY, found 1 field(s)"),
        ("# c\nAKIA1 s1 extra\n", 2, "expected ACCESS_KEY SECRET_KEY, found 3 field(s)"),
        ("AKIA1 s1\n\nAKIA1 s2\n", 3, "access key AKIA1 is given twice"),
        ("AK/IA s\n", 1, "access key AK/IA contains '/'"),
    ])
    func errorsNameTheLine(text: String, line: Int, reason: String) {
        #expect(throws: S3CredentialsError(line: line, reason: reason)) { try S3Credentials(parsing: text) }
    }

    @Test func noKeysIsAnError() {
        #expect(throws: S3CredentialsError(line: nil, reason: "no access keys")) { try S3Credentials(parsing: "# nothing\n\n") }
        #expect(S3CredentialsError(line: 4, reason: "x").description == "credentials line 4: x")
    }
}

@Suite struct S3RequestHeadTests {
    @Test func pathQueryAndHeaders() {
        let head = S3RequestHead(method: "GET", target: "/b/k?uploads&x=1?2", headers: [("X-Amz-Meta-A", "1"), ("x-amz-meta-a", "2")])
        #expect(head.path == "/b/k")
        #expect(head.query == "uploads&x=1?2")
        #expect(head.header("X-AMZ-META-A") == "1")
        #expect(head.headerValues("x-amz-meta-a") == ["1", "2"])
        #expect(S3RequestHead(method: "GET", target: "/", headers: []).query == "")
    }
}
