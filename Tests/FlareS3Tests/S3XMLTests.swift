import Foundation
import FoundationXML
import Testing
@testable import FlareS3

@Suite struct S3XMLRenderTests {
    static let modified = Date(timeIntervalSince1970: 1_255_369_830)  // 2009-10-12T17:50:30.000Z
    static let owner = S3Owner(id: "flare", displayName: "flare")
    static let head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

    @Test func escaping() {
        #expect(S3XML.escape("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&apos;f")
        #expect(S3XML.escape("tab\tok\u{1}") == "tab\tok&#x1;")
        #expect(S3XML.escape("plain €") == "plain €")
    }

    @Test func errorDocument() {
        let xml = S3Error.noSuchKey().xml(resource: "/b/a&b", requestID: "req-1")
        #expect(xml == Self.head + "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Resource>/b/a&amp;b</Resource><RequestId>req-1</RequestId></Error>")
        #expect(S3Error.bucketNotEmpty().status == 409)
        #expect(S3Error.invalidRange().status == 416)
        #expect(S3Error.notImplemented().status == 501)
    }

    @Test func listBuckets() {
        let xml = S3XML.listAllMyBuckets(owner: Self.owner, buckets: [S3BucketEntry(name: "b1", creationDate: Self.modified)])
        #expect(xml == Self.head + "<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>flare</ID><DisplayName>flare</DisplayName></Owner><Buckets><Bucket><Name>b1</Name><CreationDate>2009-10-12T17:50:30.000Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>")
    }

    @Test func listObjectsV2() {
        let result = S3ListObjectsV2Result(bucket: "b", prefix: "dir/", delimiter: "/", maxKeys: 2, continuationToken: "t1",
                                           nextContinuationToken: "t2", isTruncated: true,
                                           contents: [S3ObjectEntry(key: "dir/a&b", lastModified: Self.modified, etag: "abc", size: 5)],
                                           commonPrefixes: ["dir/sub/"])
        #expect(S3XML.listObjectsV2(result) == Self.head + "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>dir/</Prefix><ContinuationToken>t1</ContinuationToken><NextContinuationToken>t2</NextContinuationToken><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><Contents><Key>dir/a&amp;b</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>dir/sub/</Prefix></CommonPrefixes></ListBucketResult>")
    }

    @Test func listObjectsV2EncodingTypeURL() {
        let result = S3ListObjectsV2Result(bucket: "b", prefix: "a b/", startAfter: "a b/+", contents: [
            S3ObjectEntry(key: "a b/c+d%€", lastModified: Self.modified, etag: "\"x-2\"", size: 0, owner: Self.owner),
        ], encodeURL: true)
        let xml = S3XML.listObjectsV2(result)
        #expect(xml.contains("<Prefix>a%20b/</Prefix><StartAfter>a%20b/%2B</StartAfter><KeyCount>1</KeyCount>"))
        #expect(xml.contains("<EncodingType>url</EncodingType>"))
        #expect(xml.contains("<Key>a%20b/c%2Bd%25%E2%82%AC</Key>"))
        #expect(xml.contains("<ETag>&quot;x-2&quot;</ETag><Size>0</Size><Owner><ID>flare</ID><DisplayName>flare</DisplayName></Owner><StorageClass>"))
    }

    @Test func listObjectsV1WithNextMarker() {
        let result = S3ListObjectsV1Result(bucket: "b", delimiter: "/", maxKeys: 1, marker: "a", nextMarker: "c/", isTruncated: true,
                                           commonPrefixes: ["c/"])
        #expect(S3XML.listObjectsV1(result) == Self.head + "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix></Prefix><Marker>a</Marker><NextMarker>c/</NextMarker><MaxKeys>1</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><CommonPrefixes><Prefix>c/</Prefix></CommonPrefixes></ListBucketResult>")
    }

    @Test func multipartDocuments() {
        let ns = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""
        #expect(S3XML.initiateMultipartUpload(bucket: "b", key: "k<", uploadID: "u1")
            == Self.head + "<InitiateMultipartUploadResult \(ns)><Bucket>b</Bucket><Key>k&lt;</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>")
        #expect(S3XML.completeMultipartUpload(location: "http://h/b/k", bucket: "b", key: "k", etag: "abc-2")
            == Self.head + "<CompleteMultipartUploadResult \(ns)><Location>http://h/b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag>&quot;abc-2&quot;</ETag></CompleteMultipartUploadResult>")
        let parts = S3XML.listParts(S3ListPartsResult(bucket: "b", key: "k", uploadID: "u", owner: Self.owner, nextPartNumberMarker: 1,
                                                      maxParts: 1, isTruncated: true,
                                                      parts: [S3PartEntry(partNumber: 1, lastModified: Self.modified, etag: "e1", size: 5_242_880)]))
        #expect(parts.contains("<PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>1</NextPartNumberMarker><MaxParts>1</MaxParts><IsTruncated>true</IsTruncated><Part><PartNumber>1</PartNumber><LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>&quot;e1&quot;</ETag><Size>5242880</Size></Part></ListPartsResult>"))
        let uploads = S3XML.listMultipartUploads(S3ListMultipartUploadsResult(bucket: "b", owner: Self.owner,
                                                                              uploads: [S3UploadEntry(key: "k", uploadID: "u", initiated: Self.modified)]))
        #expect(uploads.contains("<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated><Upload><Key>k</Key><UploadId>u</UploadId>"))
        #expect(uploads.contains("<Initiated>2009-10-12T17:50:30.000Z</Initiated></Upload></ListMultipartUploadsResult>"))
    }

    @Test func deleteCopyLocationVersioning() {
        let ns = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""
        let outcomes: [S3DeleteOutcome] = [.deleted(key: "a"), .failed(key: "b", code: "AccessDenied", message: "no")]
        #expect(S3XML.deleteResult(outcomes, quiet: false) == Self.head + "<DeleteResult \(ns)><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>")
        #expect(S3XML.deleteResult(outcomes, quiet: true) == Self.head + "<DeleteResult \(ns)><Error><Key>b</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>")
        #expect(S3XML.copyObjectResult(etag: "e", lastModified: Self.modified) == Self.head + "<CopyObjectResult \(ns)><LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>&quot;e&quot;</ETag></CopyObjectResult>")
        #expect(S3XML.copyPartResult(etag: "e", lastModified: Self.modified).contains("<CopyPartResult \(ns)>"))
        #expect(S3XML.locationConstraint(nil) == Self.head + "<LocationConstraint \(ns)/>")
        #expect(S3XML.locationConstraint("eu-west-1") == Self.head + "<LocationConstraint \(ns)>eu-west-1</LocationConstraint>")
        #expect(S3XML.versioningConfiguration() == Self.head + "<VersioningConfiguration \(ns)/>")
    }

    /// What the renderers write, XMLParser reads back: the escaping is well-formed.
    @Test func renderedDocumentsParse() throws {
        let xml = S3XML.listObjectsV2(S3ListObjectsV2Result(bucket: "b", contents: [
            S3ObjectEntry(key: "<&>\"'\u{7f}", lastModified: Self.modified, etag: "e", size: 1),
        ]))
        #expect(XMLParser(data: Data(xml.utf8)).parse())
    }
}

@Suite struct S3XMLParseTests {
    static func data(_ text: String) -> Data { Data(text.utf8) }

    @Test func completeWithNamespaceAndQuotedETags() throws {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Part><ETag>"a54357aff0632cce46d942af68356b38"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>thwCpw==</ChecksumCRC32></Part>
              <Part>
                <PartNumber>2</PartNumber>
                <ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag>
              </Part>
            </CompleteMultipartUpload>
            """
        let parts = try S3XML.parseCompleteMultipartUpload(Self.data(body))
        #expect(parts.map(\.partNumber) == [1, 2])
        #expect(parts.map(\.etag) == ["a54357aff0632cce46d942af68356b38", "0c78aef83f66abc1fa1e8477f296d394"])
    }

    @Test func completeAsS3cmdAndRcloneSendIt() throws {
        let s3cmd = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>abc</ETag></Part></CompleteMultipartUpload>"
        #expect(try S3XML.parseCompleteMultipartUpload(Self.data(s3cmd)).map(\.etag) == ["abc"])
        let rclone = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part><ETag>&#34;abc&#34;</ETag><PartNumber>3</PartNumber></Part></CompleteMultipartUpload>"
        let parts = try S3XML.parseCompleteMultipartUpload(Self.data(rclone))
        #expect(parts.map(\.partNumber) == [3])
        #expect(parts.map(\.etag) == ["abc"])
        let prefixed = "<s3:CompleteMultipartUpload xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\"><s3:Part><s3:PartNumber>1</s3:PartNumber><s3:ETag>&quot;x&quot;</s3:ETag></s3:Part></s3:CompleteMultipartUpload>"
        #expect(try S3XML.parseCompleteMultipartUpload(Self.data(prefixed)).map(\.etag) == ["x"])
    }

    @Test(arguments: [
        "", "garbage", "<CompleteMultipartUpload>", "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<Complete><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Complete>",
        "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"\"</ETag></Part></CompleteMultipartUpload>",
    ])
    func completeMalformed(_ body: String) {
        #expect(throws: S3Error.malformedXML()) { try S3XML.parseCompleteMultipartUpload(Self.data(body)) }
    }

    @Test func delete() throws {
        let body = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet><Object><Key> a b&amp;c </Key></Object><Object><Key>d</Key><VersionId>v</VersionId></Object></Delete>"
        let parsed = try S3XML.parseDelete(Self.data(body))
        #expect(parsed.quiet)
        #expect(parsed.keys == [" a b&c ", "d"])
        #expect(try S3XML.parseDelete(Self.data("<Delete><Object><Key>k</Key></Object></Delete>")).quiet == false)
        let thousandAndOne = "<Delete>" + String(repeating: "<Object><Key>k</Key></Object>", count: 1001) + "</Delete>"
        for bad in ["<Delete></Delete>", "<Delete><Object></Object></Delete>", "<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>",
                    "<Other><Object><Key>k</Key></Object></Other>", thousandAndOne, "<Delete><Object><Key>k</Key>"] {
            #expect(throws: S3Error.malformedXML()) { try S3XML.parseDelete(Self.data(bad)) }
        }
    }

    @Test func createBucketConfiguration() throws {
        #expect(try S3XML.parseCreateBucketConfiguration(Data()) == nil)
        #expect(try S3XML.parseCreateBucketConfiguration(Self.data(" \r\n")) == nil)
        let body = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"
        #expect(try S3XML.parseCreateBucketConfiguration(Self.data(body)) == "eu-west-1")
        #expect(try S3XML.parseCreateBucketConfiguration(Self.data("<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>")) == nil)
        #expect(throws: S3Error.malformedXML()) { try S3XML.parseCreateBucketConfiguration(Self.data("<Bucket/>")) }
        #expect(throws: S3Error.malformedXML()) { try S3XML.parseCreateBucketConfiguration(Self.data("not xml")) }
    }
}
