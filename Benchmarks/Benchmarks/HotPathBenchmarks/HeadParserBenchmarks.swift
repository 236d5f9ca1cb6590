import Benchmark
import FlareHTTP

/// What `curl -T photo.jpg http://127.0.0.1:8000/object/photos/2024/img_0001.jpg` sends
/// (curl 7.88, as on Debian 12; 5 fields, 159 bytes): the head of every upload.
let curlPutHead = [
    "PUT /object/photos/2024/img_0001.jpg HTTP/1.1",
    "Host: 127.0.0.1:8000",
    "User-Agent: curl/7.88.1",
    "Accept: */*",
    "Content-Length: 1073741824",
    "Expect: 100-continue",
].joined(separator: "\r\n") + "\r\n\r\n"

/// A browser navigation GET as Chrome sends it, with cookies and conditional headers:
/// 20 header fields, 1003 bytes, the heavy end of what a GET brings.
let browserGetHead = [
    "GET /object/photos/2024/img_0001.jpg?versionId=3 HTTP/1.1",
    "Host: flare.example.com",
    "Connection: keep-alive",
    "Cache-Control: max-age=0",
    #"sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99""#,
    "sec-ch-ua-mobile: ?0",
    #"sec-ch-ua-platform: "Linux""#,
    "Upgrade-Insecure-Requests: 1",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
        + "application/signed-exchange;v=b3;q=0.7",
    "Sec-Fetch-Site: same-origin",
    "Sec-Fetch-Mode: navigate",
    "Sec-Fetch-User: ?1",
    "Sec-Fetch-Dest: document",
    "Referer: https://flare.example.com/objects?prefix=photos/2024/",
    "Accept-Encoding: gzip, deflate, br, zstd",
    "Accept-Language: en-GB,en-US;q=0.9,en;q=0.8",
    "Cookie: session=4f2a9c1e8b7d6a5f3e2d1c0b9a8f7e6d; theme=dark; _ga=GA1.1.123456789.1700000000",
    #"If-None-Match: "crc32c=9a3f5e21""#,
    "If-Modified-Since: Tue, 19 Nov 2024 08:12:31 GMT",
    "Priority: u=0, i",
].joined(separator: "\r\n") + "\r\n\r\n"

/// One unit of work: one whole head parsed from bytes already received, as the server does
/// for every request (request line, fields, Host and framing checks).
func registerHeadParserBenchmarks() {
    let cases = [
        (name: "HTTP head parse curl PUT", head: curlPutHead, fieldCount: 5),
        (name: "HTTP head parse browser GET 20 headers", head: browserGetHead, fieldCount: 20),
    ]
    for (name, head, fieldCount) in cases {
        let box = FixtureBox<PinnedBytes>()
        Benchmark(name, configuration: hotPathConfiguration(scalingFactor: .kilo)) { benchmark in
            let bytes = box.fixture!.all
            for _ in benchmark.scaledIterations {
                blackHole(HTTPHeadParser.parseRequest(bytes, limits: HTTPLimits()))
            }
        } setup: {
            let bytes = PinnedBytes(head)
            try checkParses(bytes.all, fieldCount: fieldCount, name: name)
            box.fixture = bytes
        } teardown: {
            box.fixture = nil
        }
    }
}

/// A sample head that the parser refused would measure the error path instead.
struct SampleHeadRejected: Error, CustomStringConvertible {
    let description: String
}

func checkParses(_ bytes: UnsafeRawBufferPointer, fieldCount: Int, name: String) throws {
    guard case .complete(let head, let consumed) = HTTPHeadParser.parseRequest(bytes, limits: HTTPLimits()) else {
        throw SampleHeadRejected(description: "\(name): the sample head does not parse")
    }
    let fields = head.headers.fields.count
    guard consumed == bytes.count, fields == fieldCount else {
        throw SampleHeadRejected(description: "\(name): parsed \(consumed) of \(bytes.count) bytes, \(fields) fields, expected \(fieldCount)")
    }
}
