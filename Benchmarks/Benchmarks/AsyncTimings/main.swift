import TriadAsync
import TriadAsyncHTTP
import TriadHTTPTestServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The AsyncBenchmarks workloads as a plain release program, printing the median of several runs in the same form
// as peers/async_peer.py. When gather created all 100k tasks before any ran (150 MB at once), the harness measured
// it about 1.7 times slower than this program, even by the wall clock alone; since gather creates its tasks 1024 at
// a time, the two agree. The likely cause was the cost of that memory under the harness's malloc hooks (page
// faults on every iteration); it is not proven.

let runs = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 9
let only = CommandLine.arguments.dropFirst(2).first  // sleeps, futures, gather, pingpong, http or memory; all but memory by default
func wanted(_ name: String) -> Bool { only == nil || only == name }

func median(_ body: () async throws -> Void) async rethrows -> Duration {
    var times: [Duration] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try await body()
        times.append(ContinuousClock.now - start)
    }
    return times.sorted()[times.count / 2]
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15
}

func residentKilobytes() -> Int {
    var usage = rusage()
    #if canImport(Glibc)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    return Int(usage.ru_maxrss)
}

let loop = AsyncLoop()
if only == "memory" {
    try await probeMemory(loop: loop)
    await loop.shutdown()
    exit(0)
}
print("Swift TriadAsync, median of \(runs) runs each")

if wanted("sleeps") {
let before = residentKilobytes()
let sleeps = try await median {
    try await loop.run { loop in
        _ = try await loop.gather((0..<10_000).map { _ in { try await loop.sleep(for: .milliseconds(10)) } })
    }
}
let sleepPeak = max(0, residentKilobytes() - before)
print(
    "10k concurrent 10 ms sleeps: median \(milliseconds(sleeps)) ms wall,",
    "peak RSS grew \(sleepPeak) kB (\(sleepPeak * 1024 / 10_000) bytes per task)"
)
}

if wanted("futures") {
// Peak RSS cannot show this one after the sleeps have raised the peak; `AsyncTimings 1 memory` measures its heap.
let waits = try await median {
    try await loop.run { loop in
        let futures = (0..<10_000).map { _ in loop.createFuture(of: Void.self) }
        for future in futures { loop.callLater(.milliseconds(10)) { future.succeed() } }
        _ = try await loop.gather(futures: futures)
    }
}
print("10k concurrent 10 ms waits on futures: median \(milliseconds(waits)) ms wall (heap per future: memory)")
}

if wanted("gather") {
let operations: [@Sendable () async throws -> Int] = (0..<100_000).map { index in { index } }
let gather = try await median {
    _ = try await loop.run { loop in try await loop.gather(operations) }
}
print("gather 100k trivial tasks: median \(milliseconds(gather)) ms, \(Int(100_000 / milliseconds(gather))) k tasks/s")
}

if wanted("pingpong") {
let pingPong = try await median {
    try await loop.run { loop in
        let ping = AsyncQueue<Int>()
        let pong = AsyncQueue<Int>()
        let echo = loop.createTask { for _ in 0..<100_000 { try await pong.put(try await ping.get()) } }
        for index in 0..<100_000 {
            try await ping.put(index)
            _ = try await pong.get()
        }
        try await echo.value
    }
}
print(
    "queue ping-pong 100k round trips: median \(milliseconds(pingPong)) ms,",
    "\(Int(100_000 / milliseconds(pingPong))) k round trips/s"
)
}

if wanted("http") {
let serverThreads = Int(getenv("SERVER_THREADS").map { String(cString: $0) } ?? "1") ?? 1
let server = try await HTTPLatencyServer.start(latency: .milliseconds(20), threads: serverThreads)
let client = try await loop.run { loop in LoopHTTPClient(loop: loop, maxConnectionsPerHost: 200) }
try await loop.run { loop in
    _ = try await loop.map(0..<200, maxConcurrent: 200) { _ in try await client.get(server.url) }
}
let http = try await median {
    try await loop.run { loop in
        _ = try await loop.map(0..<2000, maxConcurrent: 200) { _ in try await client.get(server.url).status }
    }
}
print(
    "HTTP 2000 requests at concurrency 200, 20 ms server: median \(milliseconds(http)) ms,",
    "\(Int(2000 / (milliseconds(http) / 1000))) req/s"
)
try await client.shutdown()
await server.stop()
}
await loop.shutdown()
