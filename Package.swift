// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Flare",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "FlareIO", targets: ["FlareIO"]),
        .library(name: "FlareHTTP", targets: ["FlareHTTP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CLiburing", pkgConfig: "liburing",
                       providers: [.apt(["liburing-dev"])]),
        .target(name: "FlareIO", dependencies: ["CLiburing"], swiftSettings: strict),
        .target(name: "FlareHTTP", dependencies: ["FlareIO"], swiftSettings: strict),
        .testTarget(name: "FlareIOTests", dependencies: ["FlareIO"], swiftSettings: strict),
        .testTarget(name: "FlareHTTPTests", dependencies: ["FlareHTTP", "FlareIO"], swiftSettings: strict),
    ]
)
