// swift-tools-version: 6.2
import PackageDescription

// Triad's benchmarks, on ordo-one/benchmark. Run them with `swift package benchmark` from this folder; the Python
// peers of the same workloads live in peers/.
let benchmarkSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)]

func benchmarkTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
        name: name,
        dependencies: [.product(name: "Benchmark", package: "benchmark")] + dependencies,
        path: "Benchmarks/\(name)",
        swiftSettings: benchmarkSettings,
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}

let package = Package(
    name: "TriadBenchmarks",
    platforms: [.macOS(.v15)],
    // `--traits MPI` builds ClusterTimings on Open MPI (TriadCluster); without it ClusterTimings only says so.
    traits: [.trait(name: "MPI", description: "Builds the cluster's timings on Triad's MPI trait (needs libopenmpi-dev).")],
    dependencies: [
        // A link to the repository root, so the identity is "triad" wherever it is cloned.
        .package(path: "triad", traits: [.defaults, .trait(name: "MPI", condition: .when(traits: ["MPI"]))]),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        benchmarkTarget("CodecBenchmarks", [.product(name: "TriadCore", package: "triad")]),
        benchmarkTarget("AsyncBenchmarks", [.product(name: "TriadAsync", package: "triad"), .product(name: "TriadAsyncHTTP", package: "triad"), .product(name: "TriadHTTPTestServer", package: "triad")]),
        benchmarkTarget("ThreadsBenchmarks", [.product(name: "TriadThreads", package: "triad"), .product(name: "TriadCore", package: "triad")]),
        benchmarkTarget("IPCBenchmarks", [.product(name: "TriadProcesses", package: "triad")]),
        // The same async workloads as a plain program outside the harness: `swift run -c release AsyncTimings`.
        .executableTarget(name: "AsyncTimings", dependencies: [.product(name: "TriadAsync", package: "triad"), .product(name: "TriadAsyncHTTP", package: "triad"), .product(name: "TriadHTTPTestServer", package: "triad")], path: "Benchmarks/AsyncTimings", swiftSettings: benchmarkSettings),
        benchmarkTarget("ProcessesBenchmarks", [.product(name: "TriadProcesses", package: "triad")]),
        // The same process pool workloads outside the harness: `swift run -c release ProcessesTimings`.
        .executableTarget(name: "ProcessesTimings", dependencies: [.product(name: "TriadProcesses", package: "triad"), .product(name: "TriadThreads", package: "triad"), .product(name: "TriadCore", package: "triad"), .product(name: "TriadWireMacros", package: "triad")], path: "Benchmarks/ProcessesTimings", swiftSettings: benchmarkSettings),
        // The cluster's workloads, run under mpirun: `swift build -c release --traits MPI --product ClusterTimings`,
        // then `mpirun -n 2 .build/release/ClusterTimings roundtrip` (see the README).
        .executableTarget(name: "ClusterTimings", dependencies: [.product(name: "TriadCluster", package: "triad"), .product(name: "TriadProcesses", package: "triad"), .product(name: "TriadCore", package: "triad")], path: "Benchmarks/ClusterTimings", swiftSettings: benchmarkSettings),
        benchmarkTarget("DataMovementBenchmarks", [.product(name: "TriadProcesses", package: "triad"), .product(name: "TriadCore", package: "triad")]),
    ]
)
