// swift-tools-version: 6.2
import CompilerPluginSupport
import PackageDescription

// Triad runs on Linux. Every platform-specific line lives in a file named `Thing+Linux.swift`, wrapped in
// `#if os(Linux)`, and in CTriadShims, so a port to another system writes those files and nothing else.

/// Settings every Triad target shares: Swift 6 mode with strict concurrency, plus the upcoming features that keep
/// existentials and imports explicit.
let triadSwiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "triad",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Triad", targets: ["Triad"]),
        .library(name: "TriadCore", targets: ["TriadCore"]),
        .library(name: "TriadThreads", targets: ["TriadThreads"]),
        .library(name: "TriadProcesses", targets: ["TriadProcesses"]),
        .library(name: "TriadAsync", targets: ["TriadAsync"]),
        // Executors as swift-service-lifecycle services: started with the app, drained on SIGTERM.
        .library(name: "TriadLifecycle", targets: ["TriadLifecycle"]),
        // The HTTP client on the loop lives apart: AsyncHTTPClient takes minutes to build.
        .library(name: "TriadAsyncHTTP", targets: ["TriadAsyncHTTP"]),
        // A test and demo helper, not public API: the slow HTTP server that the benchmarks and the examples use.
        .library(name: "TriadHTTPTestServer", targets: ["TriadHTTPTestServer"]),
        .executable(name: "triad", targets: ["triad"]),
        // The cluster on Open MPI; its code is compiled only with the `MPI` trait (`swift build --traits MPI`).
        .library(name: "TriadCluster", targets: ["TriadCluster"]),
        // `@WireCodable`, which derives a job's wire form at compile time. A product of its own, which no other Triad
        // module depends on, because a macro needs swift-syntax, and swift-syntax takes minutes to build: a user who
        // depends on `Triad` alone never builds it, and one who wants the attribute opts in with this product.
        .library(name: "TriadWireMacros", targets: ["TriadWireMacros"]),
    ],
    traits: [
        .trait(
            name: "MPI",
            description: "Builds TriadCluster on Open MPI (needs libopenmpi-dev); without it nothing touches mpi.h."
        ),
        .trait(
            name: "TracingSupport",
            description: """
                A swift-distributed-tracing span around each job of a process pool, with the caller's \
                ServiceContext carried to the worker process so that one trace crosses the process boundary.
                """
        ),
        .default(enabledTraits: []),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        // `swift package generate-documentation`: a plugin, never built into Triad.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Only for the optional TriadWireMacros product (see above).
        .package(url: "https://github.com/swiftlang/swift-syntax", from: "603.0.1"),
    ],
    targets: [
        // The platform-free core: jobs, executors, handles, errors and the wire codec.
        .target(
            name: "TriadCore",
            dependencies: [
                "CTriadWire",
                .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        // The compiler plugin behind `@WireCodable`. Apart from TriadCore so that only users of TriadWireMacros build
        // swift-syntax.
        .macro(
            name: "TriadWireMacrosPlugin",
            dependencies: [
                "TriadWireMacrosExpansion",
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
                .product(name: "SwiftCompilerPlugin", package: "swift-syntax"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        // What the plugin does: read a struct's or an enum's declaration and write its `WireCodable` conformance. A
        // plain library, so that the expansion tests import it: a test that depends on a `.macro` target makes
        // SwiftPM build every test for the host, without the executables some of them import.
        .target(
            name: "TriadWireMacrosExpansion",
            dependencies: [
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftSyntaxBuilder", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
                .product(name: "SwiftDiagnostics", package: "swift-syntax"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        // The macro's declaration, the field helpers its code calls, and TriadCore re-exported.
        .target(
            name: "TriadWireMacros",
            dependencies: ["TriadCore", "TriadWireMacrosPlugin"],
            swiftSettings: triadSwiftSettings
        ),
        // C helpers; every symbol starts with `triad_`.
        .target(name: "CTriadShims"),
        // The wire codec's one C function, which hands back a cached keyed container without a run-time metadata
        // look-up (see WireContainerCache.swift). Portable C, apart from CTriadShims so that TriadCore stays free of
        // platform code.
        .target(name: "CTriadWire"),
        .target(
            name: "TriadThreads",
            dependencies: [
                "TriadCore", "CTriadShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        .target(
            name: "TriadProcesses",
            dependencies: [
                "TriadCore", "CTriadShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(
                    name: "Tracing", package: "swift-distributed-tracing", condition: .when(traits: ["TracingSupport"])
                ),
            ],
            swiftSettings: triadSwiftSettings
        ),
        // Any executor as a `Service` of a `ServiceGroup`.
        .target(
            name: "TriadLifecycle",
            dependencies: [
                "TriadCore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        .target(
            name: "TriadAsync",
            dependencies: [
                "TriadCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        // An HTTP server that answers after a fixed latency, for tests, benchmarks, `triad compare` and the examples.
        .target(
            name: "TriadHTTPTestServer",
            dependencies: [
                "TriadAsync",
                "TriadCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        // Open MPI's C API, found through pkg-config; used only with the `MPI` trait.
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),
        // The cluster: the same executor across machines, on Open MPI. Empty without the `MPI` trait.
        .target(
            name: "TriadCluster",
            dependencies: [
                "TriadCore", "TriadProcesses", "CTriadShims",
                .target(name: "CMPI", condition: .when(traits: ["MPI"])),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        // The umbrella: re-exports only.
        .target(
            name: "Triad",
            dependencies: ["TriadCore", "TriadThreads", "TriadProcesses", "TriadAsync", "TriadLifecycle"],
            swiftSettings: triadSwiftSettings
        ),
        .executableTarget(
            name: "triad",
            dependencies: [
                "Triad",
                // Empty without the `MPI` trait; with it, `triad compare --models mpi` under mpirun.
                "TriadCluster",
                "TriadHTTPTestServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        // Examples: one small program per model, built with the package so that they stay true.
        .executableTarget(
            name: "ThreadsExample",
            dependencies: ["Triad"],
            path: "Examples/ThreadsExample",
            swiftSettings: triadSwiftSettings
        ),
        .executableTarget(
            name: "ProcessesExample",
            dependencies: ["Triad"],
            path: "Examples/ProcessesExample",
            swiftSettings: triadSwiftSettings
        ),
        .executableTarget(
            name: "AsyncExample",
            dependencies: ["Triad", "TriadHTTPTestServer"],
            path: "Examples/AsyncExample",
            swiftSettings: triadSwiftSettings
        ),
        // The README's examples, each a complete program built with the package; ReadmeTests checks that the
        // README shows them as they are here, so they cannot drift.
        .executableTarget(
            name: "ReadmeEveryModel", dependencies: ["Triad"], path: "Examples/Readme/EveryModel",
            swiftSettings: triadSwiftSettings
        ),
        .executableTarget(
            name: "ReadmeThreads", dependencies: ["Triad"], path: "Examples/Readme/Threads",
            swiftSettings: triadSwiftSettings
        ),
        .executableTarget(
            name: "ReadmeProcesses", dependencies: ["Triad", "TriadWireMacros"], path: "Examples/Readme/Processes",
            swiftSettings: triadSwiftSettings
        ),
        .executableTarget(
            name: "ReadmeOneProcess", dependencies: ["Triad"], path: "Examples/Readme/OneProcess",
            swiftSettings: triadSwiftSettings
        ),
        .executableTarget(
            name: "ReadmeAsync", dependencies: ["TriadAsync", "TriadAsyncHTTP"], path: "Examples/Readme/Async",
            swiftSettings: triadSwiftSettings
        ),
        .testTarget(
            name: "ReadmeTests",
            dependencies: ["ReadmeEveryModel", "ReadmeThreads", "ReadmeProcesses", "ReadmeOneProcess", "ReadmeAsync"],
            swiftSettings: triadSwiftSettings
        ),
        .testTarget(name: "TriadCLITests", dependencies: ["triad"], swiftSettings: triadSwiftSettings),
        .testTarget(name: "TriadCoreTests", dependencies: ["TriadCore"], swiftSettings: triadSwiftSettings),
        .testTarget(
            name: "TriadLifecycleTests",
            dependencies: [
                "TriadLifecycle", "TriadCore", "TriadThreads", "TriadLifecycleTestProgram", "TriadTestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        // A server-shaped program for the lifecycle tests: a process pool in a ServiceGroup, stopped by a signal.
        .executableTarget(
            name: "TriadLifecycleTestProgram",
            dependencies: [
                "TriadLifecycle", "TriadProcesses", "TriadCore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TriadLifecycleTestProgram",
            swiftSettings: triadSwiftSettings
        ),
        .testTarget(
            name: "TriadThreadsTests",
            dependencies: [
                "TriadThreads", "TriadCore", "TriadTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        .testTarget(
            name: "TriadProcessesTests",
            dependencies: [
                "TriadProcesses", "TriadCore", "TriadProcessesTestSupport", "TriadTestWorker", "TriadIPCTestPeer",
                "TriadTestSupport", "TriadThreads",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        .testTarget(
            name: "TriadAsyncTests",
            dependencies: [
                "TriadAsync",
                "TriadCore",
                "TriadTestSupport",
                "TriadHTTPTestServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        // The HTTP client bound to the loop's event loop.
        .target(
            name: "TriadAsyncHTTP",
            dependencies: [
                "TriadAsync",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        .testTarget(
            name: "TriadAsyncHTTPTests",
            dependencies: ["TriadAsyncHTTP", "TriadAsync", "TriadHTTPTestServer"],
            swiftSettings: triadSwiftSettings
        ),
        // Tracing across the process boundary, with the trait `TracingSupport`: a traced pool in a program of its own,
        // since a tracer is bootstrapped once per process, in the parent and in each worker.
        .executableTarget(
            name: "TriadTracingTestProgram",
            dependencies: [
                "TriadProcesses", "TriadCore",
                .product(
                    name: "Tracing", package: "swift-distributed-tracing", condition: .when(traits: ["TracingSupport"])
                ),
                .product(
                    name: "InMemoryTracing", package: "swift-distributed-tracing",
                    condition: .when(traits: ["TracingSupport"])
                ),
            ],
            path: "Tests/TriadTracingTestProgram",
            swiftSettings: triadSwiftSettings
        ),
        .testTarget(
            name: "TriadTracingTests",
            dependencies: ["TriadTracingTestProgram", "TriadTestSupport"],
            swiftSettings: triadSwiftSettings
        ),
        // Fuzzing what takes bytes from another process: the frame reader, the wire decoder and the shared rings.
        // `Fuzz/run` builds TriadFuzzer with libFuzzer and AddressSanitizer and runs each target over its corpus in
        // Fuzz/Corpus; FuzzCorpusTests replays that corpus in every test run.
        .target(
            name: "TriadFuzzTargets",
            dependencies: ["TriadCore", "TriadProcesses", "CTriadShims"],
            path: "Fuzz/Targets",
            swiftSettings: triadSwiftSettings
        ),
        .target(name: "CFuzzDriver", path: "Fuzz/CFuzzDriver"),
        .executableTarget(
            name: "TriadFuzzer", dependencies: ["TriadFuzzTargets", "CFuzzDriver"], path: "Fuzz/Fuzzer",
            swiftSettings: triadSwiftSettings
        ),
        .testTarget(name: "FuzzCorpusTests", dependencies: ["TriadFuzzTargets"], swiftSettings: triadSwiftSettings),
        // The cluster's tests launch this program under mpirun and read what it prints; both need the `MPI` trait
        // to do that (`swift test --traits MPI --filter TriadClusterTests`). The tests of rank 0's state machine
        // and of the messages between ranks need no MPI and run in every build.
        .executableTarget(
            name: "TriadClusterTestProgram",
            dependencies: [
                "TriadCluster", "TriadProcesses", "TriadCore", "TriadProcessesTestSupport", "TriadTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            path: "Tests/TriadClusterTestProgram",
            swiftSettings: triadSwiftSettings
        ),
        .testTarget(
            name: "TriadClusterTests",
            dependencies: [
                "TriadCluster", "TriadProcesses", "TriadCore", "TriadClusterTestProgram", "triad", "TriadTestSupport",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        // `@WireCodable`: its expansions and diagnostics, its bytes against hand-written conformances, and its jobs in
        // a real process pool, run by a worker program of its own that knows them.
        .testTarget(
            name: "TriadWireMacrosTests",
            dependencies: [
                "TriadWireMacros", "TriadWireMacrosExpansion", "TriadWireMacrosTestJobs", "TriadWireMacrosTestWorker",
                "TriadProcesses", "TriadCore", "TriadTestSupport",
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftSyntaxBuilder", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacroExpansion", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacrosGenericTestSupport", package: "swift-syntax"),
            ],
            swiftSettings: triadSwiftSettings
        ),
        .target(
            name: "TriadWireMacrosTestJobs",
            dependencies: ["TriadWireMacros", "TriadCore"],
            path: "Tests/TriadWireMacrosTestJobs",
            swiftSettings: triadSwiftSettings
        ),
        .executableTarget(
            name: "TriadWireMacrosTestWorker",
            dependencies: ["TriadWireMacrosTestJobs", "TriadProcesses", "TriadCore"],
            path: "Tests/TriadWireMacrosTestWorker",
            swiftSettings: triadSwiftSettings
        ),
        // Counters and keyed shared objects for the executors' map tests.
        .target(
            name: "TriadTestSupport",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            path: "Tests/TriadTestSupport",
            swiftSettings: triadSwiftSettings
        ),
        // Jobs for the process pool tests, and the worker program that runs them in its own binary.
        .target(
            name: "TriadProcessesTestSupport",
            dependencies: ["TriadCore", "TriadProcesses"],
            path: "Tests/TriadProcessesTestSupport",
            swiftSettings: triadSwiftSettings
        ),
        .executableTarget(
            name: "TriadTestWorker",
            dependencies: ["TriadProcesses", "TriadCore", "TriadProcessesTestSupport"],
            path: "Tests/TriadTestWorker",
            swiftSettings: triadSwiftSettings
        ),
        // The other process in TriadProcessesTests' IPC tests: pipe, queue and shared-memory peers.
        .executableTarget(
            name: "TriadIPCTestPeer",
            dependencies: ["TriadProcesses", "TriadCore"],
            path: "Tests/TriadIPCTestPeer",
            swiftSettings: triadSwiftSettings
        ),
    ]
)
