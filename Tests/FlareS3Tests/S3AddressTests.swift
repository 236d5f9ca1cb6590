import Foundation
import Testing
@testable import FlareS3

@Suite struct S3AddressTests {
    @Test func pathStyle() throws {
        #expect(try S3Address.parse(target: "/", host: "localhost:9000", baseDomain: "s3.local") == S3Address(bucket: nil, key: nil))
        #expect(try S3Address.parse(target: "/?x-id=ListBuckets", host: nil, baseDomain: nil) == S3Address(bucket: nil, key: nil))
        #expect(try S3Address.parse(target: "/bucket", host: "localhost", baseDomain: nil) == S3Address(bucket: "bucket", key: nil))
        #expect(try S3Address.parse(target: "/bucket/?list-type=2", host: "localhost", baseDomain: nil) == S3Address(bucket: "bucket", key: nil))
        #expect(try S3Address.parse(target: "/bucket/a%20b/c%2Bd+e%25f%26g/?uploads", host: "127.0.0.1:9000", baseDomain: "s3.local")
            == S3Address(bucket: "bucket", key: "a b/c+d+e%f&g/"))
        #expect(try S3Address.parse(target: "/b/%E2%82%AC", host: nil, baseDomain: nil).key == "€")
    }

    @Test func virtualHostStyle() throws {
        #expect(try S3Address.parse(target: "/dir/key.txt?acl", host: "my.bucket.S3.local:9000", baseDomain: "s3.local")
            == S3Address(bucket: "my.bucket", key: "dir/key.txt"))
        #expect(try S3Address.parse(target: "/", host: "photos.s3.local", baseDomain: "s3.local") == S3Address(bucket: "photos", key: nil))
        // The base domain itself, or another host, is path style.
        #expect(try S3Address.parse(target: "/photos/k", host: "s3.local:9000", baseDomain: "s3.local") == S3Address(bucket: "photos", key: "k"))
        #expect(try S3Address.parse(target: "/photos/k", host: "other.example", baseDomain: "s3.local") == S3Address(bucket: "photos", key: "k"))
    }

    @Test func badTargetsAndKeys() {
        #expect(throws: S3Error.self) { try S3Address.parse(target: "*", host: nil, baseDomain: nil) }
        #expect(throws: S3Error.self) { try S3Address.parse(target: "/b/%ZZ", host: nil, baseDomain: nil) }
        #expect(throws: S3Error.self) { try S3Address.parse(target: "/b/a%01", host: nil, baseDomain: nil) }
        do {
            _ = try S3Address.parse(target: "/b/" + String(repeating: "k", count: 1025), host: nil, baseDomain: nil)
            Issue.record("accepted a 1025-byte key")
        } catch {
            #expect(error.code == "KeyTooLongError")
        }
    }

    @Test(arguments: ["abc", "my-bucket.v2", "0bucket9", String(repeating: "a", count: 63), "192.168.1.1a"])
    func validBucketNames(_ name: String) { #expect(S3BucketName.isValid(name)) }

    @Test(arguments: ["ab", String(repeating: "a", count: 64), "MyBucket", "-bucket", "bucket-", ".bucket", "bucket.",
                      "my..bucket", "my_bucket", "192.168.1.1", "bücket", "a b"])
    func invalidBucketNames(_ name: String) { #expect(!S3BucketName.isValid(name)) }
}

@Suite struct S3TimeTests {
    @Test func formats() {
        let date = Date(timeIntervalSince1970: 1_255_369_830.123_9)  // 2009-10-12T17:50:30.123Z, a Monday
        #expect(S3Time.iso8601Milliseconds(date) == "2009-10-12T17:50:30.123Z")
        #expect(S3Time.httpDate(date) == "Mon, 12 Oct 2009 17:50:30 GMT")
        #expect(S3Time.iso8601Milliseconds(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
        #expect(S3Time.httpDate(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 GMT")
    }

    @Test func amzDate() {
        #expect(S3Time.parseAmzDate("20130524T000000Z") == Date(timeIntervalSince1970: 1_369_353_600))
        #expect(S3Time.parseAmzDate("20000229T235959Z") == Date(timeIntervalSince1970: 951_868_799))
        for bad in ["2013-05-24T00:00:00Z", "20131324T000000Z", "20130524T250000Z", "20130524T000000", "2013052aT000000Z", ""] {
            #expect(S3Time.parseAmzDate(bad) == nil, "\(bad)")
        }
    }
}
