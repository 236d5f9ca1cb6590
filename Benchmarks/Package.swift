// swift-tools-version:6.1
// Micro-benchmarks for Flare, kept out of the root package so that `swift build` and
// `swift test` there never resolve or build package-benchmark and its dependencies.
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "FlareBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Flare", path: ".."),
        // Only the malloc interposer: the default RuntimeInterposer trait pulls in a package
        // that this machine's package mirror does not have.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        /// The transfers themselves (blocking baseline, FlareIO on io_uring and on epoll),
        /// shared by the benchmark and by `loopback-strace`.
        .target(
            name: "LoopbackTransfer",
            dependencies: [.product(name: "FlareIO", package: "Flare")],
            swiftSettings: strict
        ),
        /// One transfer outside the benchmark harness, for `strace -f -c` and `perf stat`.
        .executableTarget(
            name: "loopback-strace",
            dependencies: ["LoopbackTransfer", .product(name: "FlareIO", package: "Flare")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FlareIOBenchmarks",
            dependencies: [
                "LoopbackTransfer",
                .product(name: "FlareIO", package: "Flare"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/FlareIOBenchmarks",
            swiftSettings: strict,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        /// The per-request and per-chunk pieces in isolation: HTTP head parsing, CRC32C,
        /// rendezvous placement, the GET reorder window, buffer-pool acquire and release.
        .executableTarget(
            name: "HotPathBenchmarks",
            dependencies: [
                .product(name: "FlareAPINode", package: "Flare"),
                .product(name: "FlareCore", package: "Flare"),
                .product(name: "FlareHTTP", package: "Flare"),
                .product(name: "FlareIO", package: "Flare"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/HotPathBenchmarks",
            swiftSettings: strict,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
