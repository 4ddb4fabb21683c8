import Benchmark
import Glibc
import Synchronization
import TriadCore
import TriadProcesses

// Large payloads through the process pool (peers/datamove_peer.py runs the same workloads in Python): 64 MiB to a
// worker and back, through the shared lanes (the default) and through the socket alone, beside a memcpy of 64 MiB
// as the raw limit. The benchmark binary is also the pool's worker program, so registering the jobs comes first:
// in a worker, the bootstrap call runs the worker and never returns.

private let mebibytes64 = 64 << 20

struct EchoBytes: Job {
    var bytes: [UInt8]
    func run() async throws -> [UInt8] { bytes }
}

struct EchoDoubles: Job {
    var values: [Double]
    func run() async throws -> [Double] { values }
}

let benchmarks: @Sendable () -> Void = {
    ProcessPool.bootstrap(jobs: [EchoBytes.self, EchoDoubles.self])
    Benchmark.defaultConfiguration.maxDuration = .seconds(10)
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput]

    Benchmark(
        "DataMovement: 64 MiB [UInt8] to a pool job and back, shared memory",
        configuration: .init(metrics: metrics, maxIterations: 50)
    ) { benchmark in
        let pool = current.pool!
        for _ in benchmark.scaledIterations {
            blackHole(try await pool.submit(EchoBytes(bytes: payload.bytes)).value)
        }
    } setup: {
        current.pool = await warmPool(threshold: 256 << 10)
    } teardown: {
        await current.take()?.shutdown()
    }

    Benchmark(
        "DataMovement: 64 MiB [Double] to a pool job and back, shared memory",
        configuration: .init(metrics: metrics, maxIterations: 50)
    ) { benchmark in
        let pool = current.pool!
        for _ in benchmark.scaledIterations {
            blackHole(try await pool.submit(EchoDoubles(values: payload.doubles)).value)
        }
    } setup: {
        current.pool = await warmPool(threshold: 256 << 10)
    } teardown: {
        await current.take()?.shutdown()
    }

    Benchmark(
        "DataMovement: 64 MiB [UInt8] to a pool job and back, socket only",
        configuration: .init(metrics: metrics, maxIterations: 50)
    ) { benchmark in
        let pool = current.pool!
        for _ in benchmark.scaledIterations {
            blackHole(try await pool.submit(EchoBytes(bytes: payload.bytes)).value)
        }
    } setup: {
        current.pool = await warmPool(threshold: nil)
    } teardown: {
        await current.take()?.shutdown()
    }

    Benchmark(
        "DataMovement: memcpy 64 MiB between private buffers (reference)",
        configuration: .init(metrics: metrics, maxIterations: 200)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            payload.bytes.withUnsafeBytes { source in
                payload.target.withLock { target in
                    target.withUnsafeMutableBytes { target in
                        blackHole(memcpy(target.baseAddress!, source.baseAddress!, mebibytes64))
                    }
                }
            }
        }
    }
}

/// The payloads, made once with real data (a zero-filled array would map the kernel's zero page).
private final class Payload: Sendable {
    let bytes = (0..<mebibytes64).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    let doubles = (0..<(mebibytes64 / 8)).map { Double($0) }
    let target = Mutex([UInt8](repeating: 1, count: mebibytes64))
}

private let payload = Payload()

/// A pool of one worker that has moved one payload already.
private func warmPool(threshold: Int?) async -> ProcessPoolExecutor {
    var configuration = ProcessPoolConfiguration(workers: 1)
    configuration.sharedPayloadThreshold = threshold
    let pool = ProcessPoolExecutor(configuration: configuration)
    _ = try? await pool.submit(EchoBytes(bytes: payload.bytes)).value
    return pool
}

/// The pool of the benchmark that is running.
private final class CurrentPool: Sendable {
    private let storage = Mutex<ProcessPoolExecutor?>(nil)
    var pool: ProcessPoolExecutor? {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
    func take() -> ProcessPoolExecutor? { storage.withLock { $0.take() } }
}

private let current = CurrentPool()
