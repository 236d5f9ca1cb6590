import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// The api over HTTPS (`--tls-cert`, `--tls-key`): curl, awscli and boto3, each checking the
/// certificate against a CA the test made, byte for byte at awkward sizes; a client that cannot
/// verify the certificate refuses it, so the test really goes through TLS.
@Suite("HTTPS on the api")
struct HTTPSTests {
    static let chunk = 65536

    static let boto3Script = #"""
    import sys, os, hashlib, boto3
    from botocore.config import Config
    endpoint, ca, source = sys.argv[1:4]
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="AKIAFLARETEST0001",
                      aws_secret_access_key="flare-test-secret-key-0001", region_name="us-east-1",
                      verify=ca, config=Config(retries={"max_attempts": 1}))
    s3.create_bucket(Bucket="secure")
    data = open(source, "rb").read()
    s3.put_object(Bucket="secure", Key="boto3/object", Body=data)
    back = s3.get_object(Bucket="secure", Key="boto3/object")["Body"].read()
    assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest(), "boto3 read back other bytes"
    s3.upload_file(source, "secure", "boto3/transfer")
    s3.download_file("secure", "boto3/transfer", source + ".boto3")
    assert open(source + ".boto3", "rb").read() == data, "boto3's transfer read back other bytes"
    print("boto3 OK")
    """#

    @Test("curl, awscli and boto3 over HTTPS: 0 B, 1 B, chunk−1, chunk, chunk+1 and 5 MiB byte for byte; an unknown CA, plain HTTP and TLS 1.1 are refused",
          arguments: testedEngines)
    func https(engine: IOEngineKind) async throws {
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("flare-https-keys-\(UUID().uuidString)").path
        try S3Tests.credentials.write(toFile: keys, atomically: true, encoding: .utf8)
        defer { unlink(keys) }
        let options = ["--chunk-size", "64KiB", "--s3-port", "0", "--s3-credentials", keys]
        try await withCluster(engine, "https", apiOptions: options) { cluster in
            let tmp = cluster.scratch.tmp
            let ca = try await TestCA.make(in: cluster.scratch.path)
            #expect(await cluster.api.stop(SIGTERM) != nil)
            cluster.api.scheme = "https"
            cluster.api.probeOptions = ["--cacert", ca.caFile]
            try await cluster.startAPI(options: options + ["--tls-cert", ca.certificateFile, "--tls-key", ca.keyFile])
            #expect(cluster.api.currentLog().contains("HTTPS (TLS 1.2/1.3)"), "\(cluster.api.currentLog().suffix(1500))")
            let trust = ["--cacert", ca.caFile]

            for size in [0, 1, Self.chunk - 1, Self.chunk, Self.chunk + 1, 5 << 20] {
                let file = try await cluster.randomFile("tls-\(size)", size: size)
                let put = try await cluster.put("tls/\(size)", file: file, extra: trust)
                #expect(put.status == 201, "PUT \(size) over HTTPS: \(put)")
                let got = try await cluster.get("tls/\(size)", to: file + ".out", extra: trust)
                #expect(got.status == 200, "GET \(size) over HTTPS: \(got)")
                #expect(try await sameBytes(file, file + ".out"), "\(size) bytes came back different over HTTPS")
            }
            // Keep-alive: several requests on one TLS connection.
            let twice = try await runProgram("/usr/bin/env", ["curl", "-s", "--cacert", ca.caFile, "-o", "/dev/null", "-o", "/dev/null",
                                                              "-w", "%{http_code}:%{num_connects} ", "\(cluster.base)/health", "\(cluster.base)/health"], in: tmp)
            #expect(twice.stdout == "200:1 200:0 ", "two requests, one connection: \(twice)")

            // Refused: a CA that did not sign it, none at all, plain HTTP to the TLS port, TLS 1.1.
            let unknown = try await curl(["--cacert", ca.otherCAFile, "\(cluster.base)/health"], scratch: tmp)
            #expect(unknown.curlExit == 60, "curl accepted a certificate its CA did not sign: \(unknown)")
            #expect(try await curl(["\(cluster.base)/health"], scratch: tmp).curlExit == 60, "curl accepted a certificate of an unknown CA")
            let plain = try await curl(["--max-time", "10", "http://127.0.0.1:\(cluster.api.port)/health"], scratch: tmp)
            #expect(plain.status != 200, "plain HTTP answered on the HTTPS port: \(plain)")
            let old = try await curl(trust + ["--tls-max", "1.1", "\(cluster.base)/health"], scratch: tmp)
            #expect(old.status != 200 && old.curlExit != 0, "TLS 1.1 accepted: \(old)")
            #expect(try await cluster.poll(seconds: 10) { cluster.api.currentLog().contains("error=\"TLS handshake") },
                    "no access line for the refused handshakes")

            // awscli and boto3 against the S3 port, over HTTPS too.
            let line = try #require(cluster.api.currentLog().split(separator: "\n").last { $0.contains("S3 API on ") })
            let address = line[line.range(of: "S3 API on ")!.upperBound...].prefix { $0 != " " }
            let endpoint = "https://\(address)"
            let aws = AWSClient(endpoint: endpoint, scratch: tmp)
            let big = try await cluster.randomFile("tls-aws", size: 5 << 20 | 12345)
            #expect(try await aws.run(["--ca-bundle", ca.caFile, "s3", "mb", "s3://aws-secure"]).status == 0)
            let up = try await aws.run(["--ca-bundle", ca.caFile, "s3", "cp", big, "s3://aws-secure/big"])
            #expect(up.status == 0, "\(up)")
            let down = try await aws.run(["--ca-bundle", ca.caFile, "s3", "cp", "s3://aws-secure/big", big + ".aws"])
            #expect(down.status == 0, "\(down)")
            #expect(try await sameBytes(big, big + ".aws"))
            let untrusted = try await aws.run(["s3", "ls", "s3://aws-secure"])
            #expect(untrusted.status != 0 && untrusted.stderr.contains("SSL"), "awscli trusted an unknown CA: \(untrusted)")
            let script = "\(tmp)/https-boto3.py"
            try Self.boto3Script.write(toFile: script, atomically: true, encoding: .utf8)
            let boto3 = try await runProgram("/usr/bin/env", ["python3", script, endpoint, ca.caFile, big], in: tmp)
            #expect(boto3.status == 0 && boto3.stdout.contains("boto3 OK"), "\(boto3.stdout.suffix(1000)) \(boto3.stderr.suffix(2000))")
        }
    }
}
