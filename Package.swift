// swift-tools-version:6.2
import PackageDescription

/// Our own Swift targets: Swift 6 language mode (set package-wide) and warnings as errors.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "portcullis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "portcullis", targets: ["portcullis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
    ],
    targets: [
        // Layer 0: system C libraries behind shim headers. C types never leave these and the layer-1 wrappers.
        .systemLibrary(
            name: "CPortcullisOpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        .systemLibrary(
            name: "CPortcullisNghttp2", pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"]), .brew(["nghttp2"])]),
        .systemLibrary(
            name: "CPortcullisZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        // Layer 1
        .target(
            name: "PortcullisModel",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        .target(
            name: "PortcullisTLS",
            dependencies: ["CPortcullisOpenSSL", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict),
        .target(
            name: "PortcullisHTTP2",
            dependencies: ["CPortcullisNghttp2", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict),
        .target(name: "PortcullisCompression", dependencies: ["CPortcullisZlib"], swiftSettings: strict),
        .target(
            name: "PortcullisObservability",
            dependencies: [
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict),

        .target(
            name: "PortcullisGRPC",
            dependencies: [
                "PortcullisHTTP2", "PortcullisTLS",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict),

        // Layer 2
        .target(name: "PortcullisRouting", dependencies: ["PortcullisModel"], swiftSettings: strict),

        // Layer 3
        .target(
            name: "PortcullisUpstream",
            dependencies: [
                "PortcullisModel", "PortcullisRouting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict),

        // Layer 4
        .target(
            name: "PortcullisProxy",
            dependencies: [
                "PortcullisModel", "PortcullisRouting", "PortcullisUpstream", "PortcullisObservability",
                "PortcullisCompression", "PortcullisTLS", "PortcullisHTTP2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .target(
            name: "PortcullisControlPlane",
            dependencies: [
                "PortcullisModel", .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), "PortcullisTLS",
            ],
            swiftSettings: strict),

        // Layer 5
        .target(
            name: "PortcullisServer",
            dependencies: [
                "PortcullisModel", "PortcullisRouting", "PortcullisUpstream", "PortcullisProxy",
                "PortcullisObservability", "PortcullisControlPlane", "PortcullisTLS", "PortcullisHTTP2",
                "PortcullisXDS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // istiod over ADS ("MCP over xDS"): the subscription state machine and the source behind --xds-address.
        .target(
            name: "PortcullisXDS",
            dependencies: [
                "PortcullisModel", "PortcullisControlPlane", "PortcullisGRPC", "PortcullisTLS", "PortcullisXDSProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict),

        // Layer 6
        .executableTarget(
            name: "portcullis",
            dependencies: [
                "PortcullisServer", "PortcullisModel", "PortcullisRouting", "PortcullisTLS", "PortcullisHTTP2",
                "PortcullisCompression", "PortcullisXDS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // Test support shared by test targets: a scripted DNS server (UDP and TCP) on 127.0.0.1.
        .target(
            name: "PortcullisTestDNS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/PortcullisTestDNS", swiftSettings: strict),

        .testTarget(name: "PortcullisModelTests", dependencies: ["PortcullisModel"], swiftSettings: strict),
        .testTarget(
            name: "PortcullisControlPlaneTests",
            dependencies: [
                "PortcullisControlPlane", "PortcullisModel",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "PortcullisRoutingTests", dependencies: ["PortcullisRouting", "PortcullisModel"],
            swiftSettings: strict),
        .testTarget(
            name: "PortcullisProxyTests",
            dependencies: [
                "PortcullisProxy", "PortcullisRouting", "PortcullisModel", "PortcullisUpstream",
                "PortcullisCompression", "PortcullisTLS", "PortcullisHTTP2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "PortcullisUpstreamTests",
            dependencies: [
                "PortcullisUpstream", "PortcullisRouting", "PortcullisModel", "PortcullisTestDNS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "PortcullisHTTP2Tests",
            dependencies: ["PortcullisHTTP2", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict),
        .testTarget(
            name: "PortcullisObservabilityTests", dependencies: ["PortcullisObservability"], swiftSettings: strict),
        .testTarget(
            name: "PortcullisTLSTests",
            dependencies: [
                "PortcullisTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "PortcullisIntegrationTests",
            dependencies: [
                "PortcullisServer", "PortcullisModel", "PortcullisTestDNS", "PortcullisGRPC",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
