import Testing
import TriadAsync
import TriadAsyncHTTP

@Suite("The HTTP client on the loop", .serialized)
struct HTTPClientTests {
    @Test("fetches concurrently from the latency server, on the loop thread")
    func concurrentGets() async throws {
        let server = try await HTTPLatencyServer.start(latency: .milliseconds(20), body: "hello")
        let (bodies, onLoop) = try await AsyncLoop.run { loop in
            let client = LoopHTTPClient(loop: loop, maxConnectionsPerHost: 16)
            do {
                let responses = try await loop.map(0..<32, maxConcurrent: 16) { _ in
                    try await client.get(server.url)
                }
                let onLoop = loop.isCurrentThread
                try await client.shutdown()
                return (responses.map { "\($0.status) \($0.text) \($0.header("content-length") ?? "")" }, onLoop)
            } catch {
                try? await client.shutdown()
                throw error
            }
        }
        #expect(bodies.count == 32)
        #expect(bodies.allSatisfy { $0 == "200 hello 5" })
        #expect(onLoop)
        await server.stop()
    }

    @Test("a refused connection throws")
    func refused() async throws {
        let server = try await HTTPLatencyServer.start()
        let url = server.url
        await server.stop()
        try await AsyncLoop.run { loop in
            let client = LoopHTTPClient(loop: loop, timeout: .seconds(5))
            await #expect(throws: (any Error).self) { try await client.get(url) }
            try await client.shutdown()
        }
    }
}
