import Testing
import TriadAsync
import TriadHTTPTestServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("The HTTP latency server", .serialized)
struct ServerTests {
    @Test("answers after its latency and keeps the connection alive")
    func latencyAndKeepAlive() async throws {
        let server = try await HTTPLatencyServer.start(latency: .milliseconds(30))
        #expect(server.url == "http://127.0.0.1:\(server.port)/")
        let (first, second, elapsed) = try await AsyncLoop.run { loop in
            try await loop.openConnection(host: "127.0.0.1", port: server.port) { stream in
                let start = ContinuousClock.now
                var replies: [String] = []
                for _ in 0..<2 {
                    try await stream.write("GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    var lines: [String] = []
                    while let line = try await stream.readLine(), line != "\r" { lines.append(line) }
                    let body = try await stream.read(exactly: 3)
                    replies.append(lines.joined(separator: "\n") + String(decoding: body, as: UTF8.self))
                }
                return (replies[0], replies[1], ContinuousClock.now - start)
            }
        }
        #expect(first.hasPrefix("HTTP/1.1 200 OK"))
        #expect(first.hasSuffix("ok\n"))
        #expect(second.hasPrefix("HTTP/1.1 200 OK"))
        #expect(elapsed >= .milliseconds(59))
        #expect(server.requestsReceived == 2)
        await server.stop()
    }

    @Test("Connection: close closes after the response")
    func connectionClose() async throws {
        let server = try await HTTPLatencyServer.start(latency: .milliseconds(1), body: "hi")
        let reply = try await AsyncLoop.run { loop in
            try await loop.openConnection(host: "127.0.0.1", port: server.port) { stream in
                try await stream.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                return String(decoding: try await stream.readToEnd(), as: UTF8.self)
            }
        }
        #expect(reply.hasPrefix("HTTP/1.1 200 OK"))
        #expect(reply.hasSuffix("\r\n\r\nhi"))
        await server.stop()
    }
}

@Suite("Strict mode", .serialized)
struct StrictModeTests {
    @Test("installing the loop as the global executor keeps even Task.detached on its thread (child process)")
    func strictMode() async {
        await #expect(processExitsWith: .success) {
            guard let loop = AsyncLoop.installAsGlobalExecutor() else { exit(2) }
            guard let loopThread = try? await loop.run({ _ in threadID() }) else { exit(3) }
            let detached = await Task.detached { threadID() }.value
            let plain = await Task { threadID() }.value
            exit(detached == loopThread && plain == loopThread ? 0 : 1)
        }
    }
}
