// swift-tools-version:6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "DeadlineRPC",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Wire", targets: ["Wire"]),
        .library(name: "DeadlineRPC", targets: ["DeadlineRPC"]),
        // Protobuf messages on DeadlineRPC methods (swift-protobuf); DeadlineRPC itself does not depend on it.
        .library(name: "DeadlineRPCProtobuf", targets: ["DeadlineRPCProtobuf"]),
        // The protobuf example (Examples/Orders): for Benchmarks' codec-bench, which measures its messages.
        .library(name: "OrdersExample", targets: ["OrdersExample"]),
        // For users' tests: in-process servers and clients on a manual clock (docs/TESTING.md).
        .library(name: "DeadlineRPCTesting", targets: ["DeadlineRPCTesting"]),
        // For Benchmarks/PeerStorm, which runs the same workload and flags against grpc-swift-2 and reuses the
        // analysis, report and plot code.
        .library(name: "RPCBenchCore", targets: ["RPCBenchCore"]),
        .library(name: "RPCBenchOptions", targets: ["RPCBenchOptions"]),
        // Throwaway certificates for demos and benchmarks (demo-services --tls, rpcbench --tls, Benchmarks/); never
        // for production: its CA lives in memory for one run.
        .library(name: "ThrowawayPKI", targets: ["ThrowawayPKI"]),
        .executable(name: "rpcbench", targets: ["rpcbench"]),
        .executable(name: "demo-services", targets: ["demo-services"]),
        .executable(name: "drpc", targets: ["drpc"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-service-context.git", from: "1.5.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"4.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        // The system zlib, wrapped so its macros (inflateInit2, deflateInit2) are callable from Swift.
        .target(
            name: "CZlib",
            linkerSettings: [.linkedLibrary("z")]
        ),
        // The frame format: bytes only, no sockets.
        .target(
            name: "Wire",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                "CZlib",
            ],
            swiftSettings: strictSettings
        ),
        // The runtime users link.
        .target(
            name: "DeadlineRPC",
            dependencies: [
                "Wire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "ServiceContextModule", package: "swift-service-context"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                // To read the verified peer certificate's subject and SANs (`PeerIdentity`), and to check reloaded
                // certificates (validity dates, key match) before they replace the ones in use.
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strictSettings
        ),
        // A CA and per-service certificates made in memory at start, for `demo-services --tls`, `rpcbench --tls`
        // and the TLS benchmarks. Not part of the `DeadlineRPC` product.
        .target(
            name: "ThrowawayPKI",
            dependencies: [
                "DeadlineRPC",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strictSettings
        ),
        // Protobuf messages beside Codable: `ProtobufCodec`, `Method` conveniences, error details in a trailer.
        .target(
            name: "DeadlineRPCProtobuf",
            dependencies: [
                "DeadlineRPC",
                // `Metadata` is Wire's type; a default argument of it needs the module imported.
                "Wire",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                // Only for `ByteBuffer`, which the `MessageCodec` API exposes.
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // An example service from a .proto: orders.proto, its generated orders.pb.swift (committed; regenerate with
        // Examples/Orders/generate.sh, never in CI) and its methods as `Method` values.
        .target(
            name: "OrdersExample",
            dependencies: [
                "DeadlineRPC",
                "DeadlineRPCProtobuf",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Examples/Orders",
            exclude: ["orders.proto", "generate.sh", "README.md"],
            swiftSettings: strictSettings
        ),
        // The testing kit: in-process transport (the runtime's own handlers, joined without sockets), a manual
        // clock, and what a handler saw.
        .target(
            name: "DeadlineRPCTesting",
            dependencies: [
                "DeadlineRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // rpcbench's testable core: the bench service, load generator, storm, report, plot.
        .target(
            name: "RPCBenchCore",
            dependencies: [
                "DeadlineRPC",
                // Only for `ByteBuffer`, which DeadlineRPC's raw-bytes codec API exposes but does not re-export.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strictSettings
        ),
        // The workload flags rpcbench and Benchmarks/PeerStorm share.
        .target(
            name: "RPCBenchOptions",
            dependencies: [
                "RPCBenchCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "rpcbench",
            dependencies: [
                "RPCBenchCore",
                "RPCBenchOptions",
                "RPCBenchDemo",
                "DemoTopology",
                "DeadlineRPC",
                "ThrowawayPKI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        // The demo's checkout path — services, topologies, their stats — shared by `demo-services` and by rpcbench's
        // `--target demo` (package access only: not a product).
        .target(
            name: "DemoTopology",
            dependencies: [
                "DeadlineRPC",
                // `--tls`: the throwaway CA and each service's certificate.
                "ThrowawayPKI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // rpcbench's `--target demo`: the bench's victims and storm as checkouts through the demo topology.
        .target(
            name: "RPCBenchDemo",
            dependencies: [
                "RPCBenchCore",
                "DemoTopology",
                "DeadlineRPC",
            ],
            swiftSettings: strictSettings
        ),
        // Real hosts on one machine: network namespaces on a bridge, dnsmasq, time namespaces, a userspace proxy
        // (docs/TESTBED.md). Shared by the tests (through TestSupport) and `demo-services launch --hosts`;
        // package access only: not a product.
        .target(
            name: "HostBed",
            dependencies: [
                "DeadlineRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "demo-services",
            dependencies: [
                "DemoTopology",
                "DeadlineRPC",
                "HostBed",
                "ThrowawayPKI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // `drpc`, the command-line client: list, describe and call methods through reflection, check health.
        .executableTarget(
            name: "drpc",
            dependencies: [
                "DeadlineRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // Only for `ByteBuffer`: drpc calls methods as raw bytes.
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Test-only helpers shared by every test target (they all run in one test process).
        .target(
            name: "TestSupport",
            dependencies: [
                "DeadlineRPC",
                "HostBed",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: strictSettings
        ),
        // Real hosts: network namespaces, time namespaces, dnsmasq (Sources/HostBed, docs/TESTBED.md).
        .testTarget(
            name: "MultiHostTests",
            dependencies: [
                "TestSupport",
                "DeadlineRPC",
                "demo-services",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WireTests",
            dependencies: [
                "Wire",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RPCBenchTests",
            dependencies: [
                "TestSupport",
                // Its flags are parsed in tests; `swift build` also builds it for the replica tests' child processes.
                "rpcbench",
                "RPCBenchCore",
                "RPCBenchOptions",
                "RPCBenchDemo",
                "DeadlineRPC",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strictSettings
        ),
        // The demo's scenarios in one process, its alert rule against a scrape, and its services as processes.
        .testTarget(
            name: "DemoServicesTests",
            dependencies: [
                "TestSupport",
                "demo-services",
                "DemoTopology",
                "DeadlineRPC",
                "ThrowawayPKI",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // The throwaway certificates are checked with swift-certificates' own verifier.
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "DeadlineRPCTests",
            dependencies: [
                "TestSupport",
                // Built for Tools/DRPC*Tests, which run it as a child process against test servers.
                "drpc",
                "DeadlineRPC",
                "DeadlineRPCProtobuf",
                "OrdersExample",
                "DeadlineRPCTesting",
                "Wire",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // Test certificates (a CA, server and client certificates) are generated in the tests.
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
