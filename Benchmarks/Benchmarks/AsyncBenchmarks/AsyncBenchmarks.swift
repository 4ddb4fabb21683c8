import Benchmark
import TriadAsync
import TriadAsyncHTTP
import TriadHTTPTestServer

// The async loop's benchmarks; peers/async_peer.py runs the same workloads on asyncio and aiohttp.
// Each benchmark reuses one loop (and, for HTTP, one latency server and one warm client) across iterations.

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .peakMemoryResidentDelta, .mallocCountTotal],
        maxDuration: .seconds(10),
        maxIterations: 20
    )

    Benchmark("gather 100k trivial tasks", closure: gather100k)

    // The same workload measured by the wall clock alone, to show what the malloc-counting metric costs.
    Benchmark(
        "gather 100k trivial tasks, wall clock only",
        configuration: .init(metrics: [.wallClock], maxDuration: .seconds(10), maxIterations: 20),
        closure: gather100k
    )

    Benchmark("10k concurrent 10 ms sleeps") { benchmark in
        let loop = AsyncLoop()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try await loop.run { loop in
                _ = try await loop.gather((0..<10_000).map { _ in { try await loop.sleep(for: .milliseconds(10)) } })
            }
        }
        benchmark.stopMeasurement()
        await loop.shutdown()
    }

    // The same wait with no task per sleeper: futures settled by loop timers, awaited by one gather.
    Benchmark("10k concurrent 10 ms waits on futures") { benchmark in
        let loop = AsyncLoop()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try await loop.run { loop in
                let futures = (0..<10_000).map { _ in loop.createFuture(of: Void.self) }
                for future in futures { loop.callLater(.milliseconds(10)) { future.succeed() } }
                _ = try await loop.gather(futures: futures)
            }
        }
        benchmark.stopMeasurement()
        await loop.shutdown()
    }

    Benchmark("queue ping-pong 100k round trips") { benchmark in
        let loop = AsyncLoop()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try await loop.run { loop in
                let ping = AsyncQueue<Int>()
                let pong = AsyncQueue<Int>()
                let echo = loop.createTask {
                    for _ in 0..<100_000 { try await pong.put(try await ping.get()) }
                }
                for index in 0..<100_000 {
                    try await ping.put(index)
                    _ = try await pong.get()
                }
                try await echo.value
            }
        }
        benchmark.stopMeasurement()
        await loop.shutdown()
    }

    Benchmark(
        "HTTP 2000 requests at concurrency 200, 20 ms server",
        configuration: .init(
            metrics: [.wallClock, .peakMemoryResidentDelta], maxDuration: .seconds(15), maxIterations: 20
        )
    ) { benchmark in
        let server = try await HTTPLatencyServer.start(latency: .milliseconds(20))
        let loop = AsyncLoop()
        let client = try await loop.run { loop in LoopHTTPClient(loop: loop, maxConnectionsPerHost: 200) }
        let url = server.url
        // Warm the connection pool, as a long-lived session would be.
        try await loop.run { loop in
            _ = try await loop.map(0..<200, maxConcurrent: 200) { _ in try await client.get(url) }
        }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try await loop.run { loop in
                blackHole(try await loop.map(0..<2000, maxConcurrent: 200) { _ in try await client.get(url).status })
            }
        }
        benchmark.stopMeasurement()
        try await client.shutdown()
        await loop.shutdown()
        await server.stop()
    }
}

/// Gathers 100k trivial tasks on one loop per iteration.
@Sendable func gather100k(_ benchmark: Benchmark) async throws {
    let loop = AsyncLoop()
    let operations: [@Sendable () async throws -> Int] = (0..<100_000).map { index in { index } }
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
        blackHole(try await loop.run { loop in try await loop.gather(operations) })
    }
    benchmark.stopMeasurement()
    await loop.shutdown()
}
