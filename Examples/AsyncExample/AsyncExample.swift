// Async: asyncio's model on one event-loop thread. Hundreds of requests wait at once, and nothing blocks.
// Run it with `swift run AsyncExample`.
import Triad
import TriadHTTPTestServer

@main
struct AsyncExample {
    static func main() async throws {
        // A server on its own threads that answers each request after 20 ms, standing in for a slow API.
        let server = try await HTTPLatencyServer.start(latency: .milliseconds(20))

        // The analogue of asyncio.run: everything inside runs on one event-loop thread.
        let sizes = try await AsyncLoop.run { loop in
            let start = ContinuousClock.now
            // At most 100 requests in flight, results in order: the bounded map Python users write by hand.
            let sizes = try await loop.map(0..<500, maxConcurrent: 100) { index in
                try await loop.openConnection(host: "127.0.0.1", port: server.port) { stream in
                    try await stream.write("GET /item/\(index) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    return try await stream.readToEnd().count
                }
            }
            print("500 requests of 20 ms each, 100 at a time, took", ContinuousClock.now - start)

            // A deadline around any work, like `async with asyncio.timeout(...)`.
            do {
                try await loop.timeout(.milliseconds(50)) { try await loop.sleep(for: .seconds(10)) }
            } catch let error as AsyncLoopError where error.code == .timedOut {
                print("the slow step was cancelled:", error)
            }
            return sizes
        }
        print("received", sizes.reduce(0, +), "bytes")
        await server.stop()
    }
}
