import Testing
import TriadAsync
import TriadCore

@Suite("The loop: one thread, asyncio order")
struct LoopTests {
    @Test("run returns the body's value")
    func runReturnsValue() async throws {
        let value = try await AsyncLoop.run { _ in 42 }
        #expect(value == 42)
    }

    @Test("every task, child and created task runs on one thread")
    func oneThread() async throws {
        let threads = Recorder<UInt>()
        try await AsyncLoop.run { loop in
            threads.append(threadID())
            async let first: Void = { threads.append(threadID()) }()
            await first
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        threads.append(threadID())
                        await Task.yield()
                        threads.append(threadID())
                    }
                }
            }
            let tasks = (0..<20).map { _ in
                loop.createTask {
                    threads.append(threadID())
                    try await loop.sleep(for: .milliseconds(1))
                    threads.append(threadID())
                }
            }
            _ = try await loop.gather(tasks)
            _ = try await loop.gather((0..<20).map { _ in { threads.append(threadID()) } })
            let stream = AsyncStream<Int> { continuation in
                loop.createTask {
                    for index in 0..<5 {
                        continuation.yield(index)
                        await Task.yield()
                    }
                    continuation.finish()
                }
            }
            for await _ in stream { threads.append(threadID()) }
        }
        #expect(threads.all.count == 107)
        #expect(Set(threads.all).count == 1)
    }

    @Test("tasks round-robin in asyncio's order: A0 B0 C0 A1 B1 C1")
    func roundRobin() async throws {
        let order = Recorder<String>()
        try await AsyncLoop.run { loop in
            let labels: [String] = ["A", "B", "C"]
            let tasks = labels.map { label in
                loop.createTask(name: label) {
                    for step in 0..<3 {
                        order.append("\(label)\(step)")
                        await loop.yield()
                    }
                }
            }
            _ = try await loop.gather(tasks)
        }
        #expect(order.all == ["A0", "B0", "C0", "A1", "B1", "C1", "A2", "B2", "C2"])
    }

    @Test("a long-lived loop runs several bodies and rejects work after shutdown")
    func longLived() async throws {
        let loop = AsyncLoop()
        let first = try await loop.run { loop in loop.isCurrentThread }
        let second = try await loop.run { _ in "again" }
        #expect(first)
        #expect(second == "again")
        #expect(!loop.isCurrentThread)
        await loop.shutdown()
        await #expect(throws: AsyncLoopError.self) { try await loop.run { _ in 1 } }
    }

    @Test("runBlocking runs from synchronous code")
    func runBlocking() throws {
        let value = try AsyncLoop.runBlocking { loop in
            try await loop.sleep(for: .milliseconds(5))
            return "done"
        }
        #expect(value == "done")
    }

    @Test("AsyncLoop.current is set inside the loop and not outside")
    func currentLoop() async throws {
        #expect(AsyncLoop.current == nil)
        let inside = try await AsyncLoop.run { loop in AsyncLoop.current === loop }
        #expect(inside)
    }

    @Test("Task {} escapes the loop, as documented; createTask does not")
    func escapes() async throws {
        let (loopThread, escaped, created) = try await AsyncLoop.run { loop in
            let loopThread = threadID()
            let escaped = await Task.detached { threadID() }.value
            let created = try await loop.createTask { threadID() }.value
            return (loopThread, escaped, created)
        }
        #expect(created == loopThread)
        #expect(escaped != loopThread)
    }
}
