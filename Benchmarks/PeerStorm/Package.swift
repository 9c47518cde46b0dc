// swift-tools-version:6.1
// DeadlineRPC beside grpc-swift-2 under the same cancellation storm. A package of its own, so the product build
// (and its CI) never compiles grpc-swift-2; it reuses rpcbench's workload, analysis and report code through the
// root package's RPCBenchCore library.
import PackageDescription

let package = Package(
    name: "PeerStorm",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "DeadlineRPC", path: "../.."),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", exact: "2.9.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // rpcbench's bench service, storm and report, served and called over grpc-swift-2 (HTTP/2, NIO Posix).
        .executableTarget(
            name: "peer-storm",
            dependencies: [
                .product(name: "RPCBenchCore", package: "DeadlineRPC"),
                .product(name: "RPCBenchOptions", package: "DeadlineRPC"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .enableUpcomingFeature("ExistentialAny")]
        ),
    ]
)
