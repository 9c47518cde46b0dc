// swift-tools-version:6.1
// The fuzz targets for Wire and the server connection, kept out of the main package so its users never build libFuzzer glue.
// Build and run commands: README.md beside this file.
import PackageDescription

let package = Package(
    name: "FuzzTesting",
    dependencies: [
        .package(name: "DeadlineRPC", path: ".."),  // named: the checkout folder may be called anything
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // File helpers the targets' --dump and --generate-corpus modes share.
        .target(
            name: "FuzzSupport",
            swiftSettings: [.swiftLanguageMode(.v6), .enableUpcomingFeature("ExistentialAny")]
        ),
        .executableTarget(
            name: "FuzzWireDecoder",
            dependencies: [
                "FuzzSupport",
                .product(name: "Wire", package: "DeadlineRPC"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .enableUpcomingFeature("ExistentialAny")]
        ),
        // The server's connection handler on an EmbeddedChannel (through DeadlineRPC's `@_spi(Fuzzing)` entry point).
        .executableTarget(
            name: "FuzzServerConnection",
            dependencies: [
                "FuzzSupport",
                .product(name: "DeadlineRPC", package: "DeadlineRPC"),
                .product(name: "Wire", package: "DeadlineRPC"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .enableUpcomingFeature("ExistentialAny")]
        ),
    ]
)
