// swift-tools-version:6.1
// Benchmarks live in their own package so the product build stays lean.
import PackageDescription

let package = Package(
    name: "DeadlineRPCBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "DeadlineRPC", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // What the benchmarks share: handlers that park until cancelled, recording when cancellation reached them.
        .target(name: "BenchSupport", swiftSettings: [.swiftLanguageMode(.v6)]),
        // Unary echo of raw bytes over DeadlineRPC, with the same load shapes as ../shared/peers.
        .executableTarget(
            name: "echo-bench",
            dependencies: [
                .product(name: "DeadlineRPC", package: "DeadlineRPC"),
                // `--tls`: a throwaway CA and server certificate made at start.
                .product(name: "ThrowawayPKI", package: "DeadlineRPC"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Cancel and deadline latency per hop of a chain, and work done after the call died, propagation on/off.
        .executableTarget(
            name: "cascade-bench",
            dependencies: [
                .product(name: "DeadlineRPC", package: "DeadlineRPC"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Memory per in-flight call: thousands of calls parked at once on one connection.
        .executableTarget(
            name: "inflight-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "DeadlineRPC", package: "DeadlineRPC"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // One burst of cancellations taken apart: when it reaches callers and handlers, and what it does to victims.
        .executableTarget(
            name: "burst-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "DeadlineRPC", package: "DeadlineRPC"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // TLS costs: full handshakes per second (one at a time and concurrent, beside bare TCP connects), and a
        // legitimate client's latency while 500 handshakes (and trickled ClientHellos) flood the server.
        .executableTarget(
            name: "tls-bench",
            dependencies: [
                .product(name: "DeadlineRPC", package: "DeadlineRPC"),
                .product(name: "ThrowawayPKI", package: "DeadlineRPC"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Protobuf vs JSON codec cost per call for a ~1 KB message: encode + decode, and a whole unary echo call.
        .executableTarget(
            name: "codec-bench",
            dependencies: [
                .product(name: "DeadlineRPC", package: "DeadlineRPC"),
                .product(name: "DeadlineRPCProtobuf", package: "DeadlineRPC"),
                .product(name: "OrdersExample", package: "DeadlineRPC"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The longest event-loop stall while 4 MiB gzip messages go both ways, with and without the offload.
        .executableTarget(
            name: "compress-bench",
            dependencies: [
                .product(name: "DeadlineRPC", package: "DeadlineRPC"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Encode and decode cost of Wire frames.
        .executableTarget(
            name: "wire-bench",
            dependencies: [
                .product(name: "Wire", package: "DeadlineRPC"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
