import TriadAsync
import TriadAsyncHTTP

@main struct AsyncReadmeExample {
    static func main() async throws {
        let urls = (1...100).map { "http://127.0.0.1:8080/items/\($0)" }

        let statuses = try await AsyncLoop.run { loop in      // asyncio.run: everything below runs on one thread
            let client = LoopHTTPClient(loop: loop, maxConnectionsPerHost: 50)
            let statuses = try await loop.map(urls, maxConcurrent: 50) { url in   // at most 50 in flight, in order
                try await loop.timeout(.seconds(5)) { try await client.get(url).status }
            }
            try await client.shutdown()
            return statuses
        }
        print(statuses.count)
    }
}
