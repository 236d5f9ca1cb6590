import FlareS3
import Foundation
import Testing

@Suite("S3 copy source, range and conditions")
struct S3CopySourceTests {
    @Test("x-amz-copy-source: with and without a leading slash, URL-encoded, versionId null accepted, others refused")
    func parse() throws {
        #expect(try S3CopySource.parse("bucket/a/b.txt") == S3CopySource(bucket: "bucket", key: "a/b.txt"))
        #expect(try S3CopySource.parse("/bucket/a%20b%2Bc%3Fd") == S3CopySource(bucket: "bucket", key: "a b+c?d"))
        #expect(try S3CopySource.parse("bucket/%E2%82%AC?versionId=null") == S3CopySource(bucket: "bucket", key: "€"))
        #expect(throws: S3Error.self) { try S3CopySource.parse("bucket/key?versionId=3") }
        for bad in ["", "bucket", "bucket/", "/key-only", "//key"] {
            #expect(throws: S3Error.self, "\(bad)") { try S3CopySource.parse(bad) }
        }
    }

    @Test("x-amz-copy-source-range: bytes=first-last inside the source; anything else InvalidArgument")
    func range() throws {
        #expect(try S3CopySource.range("bytes=0-0", size: 10) == 0..<1)
        #expect(try S3CopySource.range("bytes=3-9", size: 10) == 3..<10)
        for bad in ["bytes=3-10", "bytes=5-4", "bytes=-3", "bytes=3-", "3-4", "bytes=a-b", "bytes=1-2,4-5"] {
            do {
                _ = try S3CopySource.range(bad, size: 10)
                Issue.record("\(bad) accepted")
            } catch {
                #expect(error.code == "InvalidArgument" && error.status == 400, "\(bad): \(error)")
            }
        }
    }

    @Test("conditions: If-Match overrides If-Unmodified-Since, If-None-Match overrides If-Modified-Since, 412 otherwise")
    func conditions() throws {
        let modified = Date(timeIntervalSince1970: 1_700_000_000.7)
        let before = Date(timeIntervalSince1970: 1_600_000_000), after = Date(timeIntervalSince1970: 1_800_000_000)
        let etag = "\"0123456789abcdef0123456789abcdef\""
        func holds(_ conditions: S3CopyConditions) -> Bool {
            do {
                try conditions.check(etag: etag, lastModified: modified)
                return true
            } catch {
                #expect(error.status == 412 && error.code == "PreconditionFailed")
                return false
            }
        }
        #expect(holds(S3CopyConditions()))
        #expect(holds(S3CopyConditions(ifMatch: "0123456789abcdef0123456789abcdef")))
        #expect(holds(S3CopyConditions(ifMatch: "\"x\", \(etag)")))
        #expect(holds(S3CopyConditions(ifMatch: "*")))
        #expect(!holds(S3CopyConditions(ifMatch: "\"other\"")))
        #expect(holds(S3CopyConditions(ifMatch: etag, ifUnmodifiedSince: before)))  // If-Match wins
        #expect(!holds(S3CopyConditions(ifUnmodifiedSince: before)))
        #expect(holds(S3CopyConditions(ifUnmodifiedSince: after)))
        #expect(holds(S3CopyConditions(ifUnmodifiedSince: Date(timeIntervalSince1970: 1_700_000_000))))  // whole seconds
        #expect(!holds(S3CopyConditions(ifNoneMatch: etag)))
        #expect(holds(S3CopyConditions(ifNoneMatch: "\"other\"", ifModifiedSince: after)))  // If-None-Match wins
        #expect(!holds(S3CopyConditions(ifModifiedSince: after)))
        #expect(holds(S3CopyConditions(ifModifiedSince: before)))
    }

    @Test("conditions read from headers in any case; dates in IMF-fixdate and ISO 8601")
    func conditionHeaders() {
        let conditions = S3CopyConditions(headers: [("X-Amz-Copy-Source-If-Match", "\"e\""),
                                                    ("x-amz-copy-source-if-modified-since", "Wed, 12 Oct 2009 17:50:00 GMT"),
                                                    ("x-amz-copy-source-if-unmodified-since", "2009-10-12T17:50:00.000Z")])
        #expect(conditions.ifMatch == "\"e\"")
        #expect(conditions.ifModifiedSince == Date(timeIntervalSince1970: 1_255_369_800))
        #expect(conditions.ifUnmodifiedSince == Date(timeIntervalSince1970: 1_255_369_800))
        #expect(S3Time.parseHTTPDate("2009-10-12T17:50:00Z") == Date(timeIntervalSince1970: 1_255_369_800))
        #expect(S3Time.parseHTTPDate(S3Time.httpDate(Date(timeIntervalSince1970: 1_700_000_000))) == Date(timeIntervalSince1970: 1_700_000_000))
        for bad in ["", "yesterday", "Wed, 12 Foo 2009 17:50:00 GMT", "Wed, 32 Oct 2009 17:50:00 GMT", "2009-13-12T17:50:00Z",
                    "2009-10-12T17:50:00.Z"] {
            #expect(S3Time.parseHTTPDate(bad) == nil, "\(bad)")
        }
    }
}
