// swift-tools-version: 6.2
import PackageDescription

// A Hummingbird 2 server that runs its CPU-bound and crash-prone work in a Triad process pool, with the pool and the
// HTTP server in one ServiceGroup. A package of its own, so that Triad's build does not pay for Hummingbird.
let package = Package(
    name: "HummingbirdOffload",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "triad"),  // a link to the repository root, so the identity is "triad" wherever it is cloned
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    ],
    targets: [
        .executableTarget(
            name: "HummingbirdOffload",
            dependencies: [
                .product(name: "TriadProcesses", package: "triad"),
                .product(name: "TriadLifecycle", package: "triad"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Sends a bounded number of requests with a bounded concurrency and prints requests per second.
        .executableTarget(name: "LoadGenerator", swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(
            name: "HummingbirdOffloadTests",
            dependencies: ["HummingbirdOffload"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
