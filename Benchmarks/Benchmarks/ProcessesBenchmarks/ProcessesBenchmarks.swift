import Benchmark
import Synchronization
import TriadCore
import TriadProcesses

// The process pool against Python's pools (peers/processes_peer.py runs the same workloads). The benchmark binary
// is also the pool's worker program, so registering the jobs is the first thing it does: in a worker, the bootstrap
// call runs the worker and never returns.

struct Tiny: Job {
    var value: Int
    func run() async throws -> Int { value &+ 1 }
}

/// The same job with its own wire functions (``WireCodable``) instead of `Codable`'s containers.
struct TinyWire: Job, WireCodable {
    var value: Int
    init(value: Int) { self.value = value }
    func run() async throws -> Int { value &+ 1 }
    func encode(to writer: inout WireWriter) { writer.write(value) }
    init(from reader: inout WireReader) throws(WireError) { value = try reader.read(Int.self) }
}

let benchmarks: @Sendable () -> Void = {
    ProcessPool.bootstrap(jobs: [Tiny.self, TinyWire.self])

    let metrics: [BenchmarkMetric] = [.wallClock, .throughput]

    tinyJobBenchmarks("", make: Tiny.init)
    tinyJobBenchmarks(" WireCodable", make: TinyWire.init)

    Benchmark(
        "Processes: 1000 sequential round trips (1 worker)",
        configuration: .init(metrics: metrics, maxDuration: .seconds(10), maxIterations: 30)
    ) { benchmark in
        let pool = current.pool!
        for _ in benchmark.scaledIterations {
            for index in 0..<1000 { blackHole(try await pool.submit(Tiny(value: index)).value) }
        }
    } setup: {
        current.pool = await warmPool(workers: 1)
    } teardown: {
        await current.take()?.shutdown()
    }

    Benchmark(
        "Processes: pool of 2 to its first result",
        configuration: .init(metrics: [.wallClock], maxDuration: .seconds(10), maxIterations: 30)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            let pool = ProcessPoolExecutor(workers: 2)
            blackHole(try await pool.submit(Tiny(value: 1)).value)
            await pool.kill()
        }
    }
}

/// The two tiny-job workloads for one job type: 10k jobs submitted then awaited, and a map over 200k, each on a
/// warm pool of 2 workers.
func tinyJobBenchmarks<J: Job>(_ kind: String, make: @escaping @Sendable (Int) -> J) {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput],
        maxDuration: .seconds(10),
        maxIterations: 30
    )
    Benchmark("Processes: 10k tiny\(kind) jobs submitted and awaited (2 workers)", configuration: configuration) {
        benchmark in
        let pool = current.pool!
        for _ in benchmark.scaledIterations {
            let handles = try (0..<10_000).map { try pool.submit(make($0)) }
            for handle in handles { blackHole(try await handle.value) }
        }
    } setup: {
        current.pool = await warmPool(workers: 2)
    } teardown: {
        await current.take()?.shutdown()
    }

    Benchmark("Processes: map over 200k tiny\(kind) items (2 workers)", configuration: configuration) { benchmark in
        let pool = current.pool!
        let jobs = (0..<200_000).map(make)
        for _ in benchmark.scaledIterations {
            blackHole(try await pool.map(jobs))
        }
    } setup: {
        current.pool = await warmPool(workers: 2)
    } teardown: {
        await current.take()?.shutdown()
    }
}

/// A pool whose workers have started and answered once.
func warmPool(workers: Int) async -> ProcessPoolExecutor {
    let pool = ProcessPoolExecutor(workers: workers)
    _ = try? await pool.map((0..<1000).map { Tiny(value: $0) })
    return pool
}

/// The pool of the benchmark that is running.
final class CurrentPool: Sendable {
    private let storage = Mutex<ProcessPoolExecutor?>(nil)
    var pool: ProcessPoolExecutor? {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
    func take() -> ProcessPoolExecutor? { storage.withLock { $0.take() } }
}

let current = CurrentPool()
