import Testing
import TriadAsync
import TriadAsyncHTTP
import TriadHTTPTestServer

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

    @Test("a body larger than maxBodyBytes throws, and the client stays usable")
    func tooLargeBody() async throws {
        let server = try await HTTPLatencyServer.start(latency: .milliseconds(1), body: "a body of twenty-six bytes")
        let status = try await AsyncLoop.run { loop in
            let client = LoopHTTPClient(loop: loop)
            await #expect(throws: (any Error).self) { try await client.get(server.url, maxBodyBytes: 4) }
            let response = try await client.execute(
                method: "POST", url: server.url, headers: [("X-Test", "1")], body: [1]
            )
            let status = response.status
            try await client.shutdown()
            return status
        }
        #expect(status == 200)
        await server.stop()
    }

    @Test("cancelling a request ends it at once")
    func cancelledRequest() async throws {
        let server = try await HTTPLatencyServer.start(latency: .seconds(3600))
        let loop = AsyncLoop()
        let client = try await loop.run { loop in LoopHTTPClient(loop: loop) }
        let started = ContinuousClock.now
        let request = Task { try await loop.run { _ in try await client.get(server.url) } }
        // Cancels once the request has reached the server, not after a guess at how long that takes.
        while server.requestsReceived < 1 { try await Task.sleep(for: .milliseconds(1)) }
        request.cancel()
        await #expect(throws: (any Error).self) { try await request.value }
        // The point is that it does not wait for the server's hour; minutes allow for a machine stalled by other
        // work.
        #expect(ContinuousClock.now - started < .seconds(600))
        try await client.shutdown()
        await server.stop()
        await loop.shutdown()
    }

    @Test("a request slower than the client's timeout throws deadlineExceeded")
    func timeout() async throws {
        let server = try await HTTPLatencyServer.start(latency: .seconds(3600))
        let started = ContinuousClock.now
        try await AsyncLoop.run { loop in
            let client = LoopHTTPClient(loop: loop, timeout: .milliseconds(200))
            do {
                _ = try await client.get(server.url)
                Issue.record("the request should have timed out")
            } catch {
                #expect("\(error)".contains("deadlineExceeded"))
            }
            try await client.shutdown()
        }
        // The point is that it does not wait for the server's hour; minutes allow for a machine stalled by other
        // work.
        #expect(ContinuousClock.now - started < .seconds(600))
        await server.stop()
    }
}
