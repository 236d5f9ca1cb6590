// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Flare",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "FlareIO", targets: ["FlareIO"]),
        .library(name: "FlareHTTP", targets: ["FlareHTTP"]),
        .library(name: "FlareCore", targets: ["FlareCore"]),
        .library(name: "FlareAPINode", targets: ["FlareAPINode"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        // SHA-256, HMAC-SHA256 and HMAC-SHA1 for S3's signatures (SigV4, SigV2 presigned URLs),
        // constant-time compared; on Linux it carries its own BoringSSL, so no system library.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        // Spans around the PUT and GET stages, W3C traceparent in and out.
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context", from: "1.0.0"),
        // Metrics: swift-metrics as the API, swift-prometheus's registry for /metrics.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CLiburing", pkgConfig: "liburing",
                       providers: [.apt(["liburing-dev"])]),
        .target(name: "FlareIO", dependencies: ["CLiburing"], swiftSettings: strict),
        // HTTPS on the api: OpenSSL (Debian's libssl-dev) through memory BIOs, over FlareIO's
        // TCP connections, so every byte still moves on Flare's loops.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "FlareTLS", dependencies: ["COpenSSL", "FlareIO"], swiftSettings: strict),
        // etcd's v3 API through its JSON gateway, over FlareHTTP's client (see EtcdClient).
        .target(name: "FlareEtcd", dependencies: ["FlareHTTP", "FlareIO"], swiftSettings: strict),
        .target(name: "FlareHTTP", dependencies: [
            "FlareIO", "FlareCore", "FlareMetrics", .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ], swiftSettings: strict),
        .systemLibrary(name: "CISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .target(name: "FlareCore", dependencies: ["CISAL"], swiftSettings: strict),
        // Every node's metrics: the catalog of families (names, types, labels, help), swift-metrics
        // handles made through a factory over the node's own Prometheus registry, and /metrics' text.
        .target(name: "FlareMetrics", dependencies: [
            .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: strict),
        // Placement over node ids (weighted, zone-aware) and node health states: no HTTP, no I/O.
        .target(name: "FlareCluster", dependencies: ["FlareCore"], swiftSettings: strict),
        .target(name: "FlareDataNode", dependencies: [
            "FlareAuth", "FlareCore", "FlareHTTP", "FlareIO", "FlareMetrics", "FlareTracing", .product(name: "Logging", package: "swift-log"),
            .product(name: "Tracing", package: "swift-distributed-tracing"),
        ], swiftSettings: strict),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "FlareMetadata", dependencies: ["CSQLite", "FlareCore", "FlareIO"], swiftSettings: strict),
        .target(name: "FlareAPINode", dependencies: [
            "FlareAuth", "FlareCluster", "FlareCore", "FlareHTTP", "FlareIO", "FlareMetadata", "FlareMetrics", "FlareS3", "FlareTLS", "FlareTracing",
            .product(name: "Logging", package: "swift-log"), .product(name: "Tracing", package: "swift-distributed-tracing"),
            .product(name: "Instrumentation", package: "swift-distributed-tracing"),
        ],
        // The web console's page, script and style, compiled into the binary as byte arrays
        // (`PackageResources`): nothing to install beside it, no build step for the front end.
        resources: [.embedInCode("Console")], swiftSettings: strict),
        // The tracer both nodes use (spans to the log), and the traceparent header carriers.
        .target(name: "FlareTracing", dependencies: [
            "FlareHTTP", .product(name: "Tracing", package: "swift-distributed-tracing"),
            .product(name: "Instrumentation", package: "swift-distributed-tracing"),
            .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"), .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // The flags both nodes take (runtime, HTTP timeouts, cluster secrets), reading credentials
        // files, and the logging bootstrap.
        .target(name: "FlareCommandLine", dependencies: [
            "FlareAuth", "FlareHTTP", "FlareIO", "FlareTracing", .product(name: "Tracing", package: "swift-distributed-tracing"), .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .executableTarget(name: "api", dependencies: [
            "FlareAPINode", "FlareAuth", "FlareCommandLine", "FlareIO", "FlareCore", "FlareTLS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // Who may talk to whom, without I/O: HMAC-SHA256 signatures of api → data node requests
        // (cluster secrets, their rotation, the nonce cache against replays) and bearer tokens.
        .target(name: "FlareAuth", dependencies: ["FlareCore", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        // The flare admin CLI's logic: the admin endpoints' answers, a client for them over
        // FlareHTTP (or fixtures, in tests), node-id prefixes and the human tables.
        // S3's protocol without I/O: SigV4/SigV2 verification, credentials, addressing, the
        // XML S3 answers in and the request bodies it parses (FoundationXML, from the toolchain),
        // aws-chunked payload decoding, body hashes and checksum headers. CISAL for ISA-L's
        // CRC32 (IEEE), as FlareCore uses its CRC32C.
        .target(name: "FlareS3", dependencies: [
            "CISAL", "FlareCore", .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        .target(name: "FlareAdmin", dependencies: ["FlareCore", "FlareHTTP", "FlareIO"], swiftSettings: strict),
        .executableTarget(name: "flare", dependencies: [
            "FlareAdmin", "FlareIO", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .target(name: "FlareBench", dependencies: [
            "FlareAuth", "FlareCore", "FlareHTTP", "FlareIO", .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], swiftSettings: strict),
        .executableTarget(name: "flare-bench", dependencies: [
            "FlareBench", "FlareCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        // A yardstick flare-bench measures beside Flare, in C: a minimal relay + store of
        // Flare's shape (no HTTP between them, no checksums). Not product code: see its main.c.
        .executableTarget(name: "flare-pipeline", cSettings: [.define("_GNU_SOURCE")],
                          linkerSettings: [.linkedLibrary("uring")]),
        .executableTarget(name: "datanode", dependencies: [
            "FlareAuth", "FlareDataNode", "FlareCommandLine", "FlareIO", "FlareCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .testTarget(name: "FlareIOTests", dependencies: ["FlareIO", "FlareTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlareHTTPTests", dependencies: [
            "FlareHTTP", "FlareIO", "FlareCore", "FlareMetrics", "FlareTestSupport", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .testTarget(name: "FlareCoreTests", dependencies: ["FlareCore", "FlareTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlareClusterTests", dependencies: ["FlareCluster", "FlareCore", "FlareTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlareAuthTests", dependencies: ["FlareAuth"], swiftSettings: strict),
        .testTarget(name: "FlareEtcdTests", dependencies: ["FlareEtcd", "FlareIO", "FlareTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlareMetricsTests", dependencies: ["FlareMetrics", "FlareTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlareS3Tests", dependencies: ["FlareS3", "FlareTestSupport", .product(name: "Crypto", package: "swift-crypto")],
                    swiftSettings: strict),
        .testTarget(name: "FlareAdminTests", dependencies: ["FlareAdmin", "FlareTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlareBenchTests", dependencies: ["FlareBench", "FlareIO", "FlareTestSupport"], swiftSettings: strict),
        // What the tests share: the engines they run on, the built binaries, server and other
        // child processes, curl and file helpers, secrets and signed curl requests.
        .target(name: "FlareTestSupport", dependencies: ["FlareAuth", "FlareCore", "FlareIO"], path: "Tests/FlareTestSupport", swiftSettings: strict),
        .testTarget(name: "FlareDataNodeTests", dependencies: ["FlareDataNode", "FlareIO", "FlareCore", "FlareMetrics", "FlareTestSupport",
                                                              .product(name: "Logging", package: "swift-log")],
                    swiftSettings: strict),
        .testTarget(name: "FlareAPINodeTests", dependencies: ["FlareAPINode", "FlareCluster", "FlareCore", "FlareHTTP", "FlareIO", "FlareMetadata", "FlareMetrics", "FlareTestSupport"], swiftSettings: strict),
        .testTarget(name: "FlareMetadataTests", dependencies: ["FlareMetadata", "FlareCore", "FlareTestSupport"], swiftSettings: strict),
        .testTarget(name: "IntegrationTests", dependencies: ["FlareCluster", "FlareCore", "FlareIO", "FlareTestSupport"], swiftSettings: strict),
    ]
)
