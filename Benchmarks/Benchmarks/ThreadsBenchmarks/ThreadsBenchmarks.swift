import Benchmark
import TriadCore
import TriadThreads

/// The benchmark object, handed to the measuring thread while the runner's task awaits that thread.
private final class Measured: @unchecked Sendable {
    // Used by one thread at a time: the measuring thread, while the runner awaits its join.
    let benchmark: Benchmark
    init(_ benchmark: Benchmark) { self.benchmark = benchmark }
}

/// Runs the measured loop on a dedicated OS thread, so blocking calls never block Swift's cooperative pool; the
/// thread's own start is outside the measurement.
private func measureOnThread(
    _ benchmark: Benchmark,
    _ body: @escaping @Sendable (_ iterations: Int) throws -> Void
) async throws {
    let measured = Measured(benchmark)
    let thread = Thread(name: "benchmark") {
        let iterations = measured.benchmark.scaledIterations.count
        measured.benchmark.startMeasurement()
        try body(iterations)
        measured.benchmark.stopMeasurement()
    }
    try thread.start()
    try await thread.join()
}

private struct Noop: Job {
    func run() async throws -> Int { 1 }
}

let benchmarks: @Sendable () -> Void = {
    let quick = Benchmark.Configuration(
        metrics: [.wallClock, .throughput],
        scalingFactor: .kilo,
        maxDuration: .seconds(3)
    )
    let pool = ThreadPoolExecutor(workers: 2, name: "bench-pool")
    let ping = BlockingQueue<Int>()
    let pong = BlockingQueue<Int>()
    let echo = Thread(name: "echo", daemon: true) {
        while let item = try? ping.get() { try pong.put(item) }
    }
    try! echo.start()

    Benchmark("Thread start+join", configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(3))) {
        benchmark in
        try await measureOnThread(benchmark) { iterations in
            for _ in 0..<iterations {
                let thread = Thread { 1 }
                try thread.start()
                blackHole(try thread.join())
            }
        }
    }

    Benchmark("Pool submit+result, closure, blocking wait", configuration: quick) { benchmark in
        try await measureOnThread(benchmark) { iterations in
            for _ in 0..<iterations { blackHole(try pool.submit { 1 }.wait()) }
        }
    }

    Benchmark("Pool submit+result, Job, blocking wait", configuration: quick) { benchmark in
        try await measureOnThread(benchmark) { iterations in
            for _ in 0..<iterations { blackHole(try pool.submit(Noop()).wait()) }
        }
    }

    Benchmark("Pool submit+result, Job, await value", configuration: quick) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try await pool.submit(Noop()).value) }
    }

    // One map of as many jobs as the harness scales an iteration to (1000), so its figure is per job.
    let thousand = (0..<1000).map { _ in Noop() }
    Benchmark("Pool map of 1000 tiny jobs, per job", configuration: quick) { benchmark in
        precondition(benchmark.scaledIterations.count == thousand.count)
        blackHole(try await pool.map(thousand))
    }

    Benchmark("BlockingQueue ping-pong round trip", configuration: quick) { benchmark in
        try await measureOnThread(benchmark) { iterations in
            for item in 0..<iterations {
                try ping.put(item)
                blackHole(try pong.get())
            }
        }
    }

    Benchmark("Lock acquire+release, uncontended", configuration: quick) { benchmark in
        let lock = Lock()
        try await measureOnThread(benchmark) { iterations in
            for _ in 0..<iterations {
                lock.acquire()
                lock.release()
            }
        }
    }

    Benchmark("Lock acquire+release, 2 threads contending", configuration: quick) { benchmark in
        // Each of two threads takes and releases the lock `iterations` times; the figure is per pair of operations.
        let lock = Lock()
        let counter = UnsafeCounter()
        try await measureOnThread(benchmark) { iterations in
            let other = Thread {
                for _ in 0..<iterations {
                    lock.acquire()
                    counter.value &+= 1
                    lock.release()
                }
            }
            try other.start()
            for _ in 0..<iterations {
                lock.acquire()
                counter.value &+= 1
                lock.release()
            }
            try other.join()
        }
        blackHole(counter.value)
    }
}

private final class UnsafeCounter: @unchecked Sendable {
    // Guarded by the benchmark's lock.
    var value = 0
}
