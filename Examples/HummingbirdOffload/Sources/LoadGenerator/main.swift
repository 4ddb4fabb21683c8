import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// Sends `count` GET requests to `url`, at most `concurrency` at a time, and prints the requests per second, the
// median and 99th-percentile latencies and how many failed. Bounded in count, and each request in time.
// Usage: LoadGenerator <url> <count> <concurrency>

let arguments = CommandLine.arguments
guard arguments.count == 4, let url = URL(string: arguments[1]), let count = Int(arguments[2]),
    let concurrency = Int(arguments[3]), count > 0, concurrency > 0
else {
    print("usage: LoadGenerator <url> <count> <concurrency>")
    exit(64)
}

let configuration = URLSessionConfiguration.ephemeral
configuration.httpMaximumConnectionsPerHost = concurrency
configuration.timeoutIntervalForRequest = 60
let session = URLSession(configuration: configuration)

let start = Date()
let (latencies, failures) = await withTaskGroup(of: (Double, Bool).self) { group in
    var latencies: [Double] = []
    var failures = 0
    var sent = 0
    func send() {
        sent += 1
        group.addTask {
            let begin = Date()
            let ok = ((try? await session.data(from: url))?.1 as? HTTPURLResponse)?.statusCode == 200
            return (Date().timeIntervalSince(begin), ok)
        }
    }
    while sent < min(concurrency, count) { send() }
    for await (latency, ok) in group {
        latencies.append(latency)
        if !ok { failures += 1 }
        if sent < count { send() }
    }
    return (latencies, failures)
}
let elapsed = Date().timeIntervalSince(start)
let sorted = latencies.sorted()
let median = sorted[sorted.count / 2]
let p99 = sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
print(
    String(
        format: "%d requests in %.2f s: %.0f requests/s, latency median %.1f ms, p99 %.1f ms, %d failed",
        count, elapsed, Double(count) / elapsed, median * 1000, p99 * 1000, failures
    )
)
