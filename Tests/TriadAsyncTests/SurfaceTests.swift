import NIOCore
import Testing
import TriadAsync
import TriadCore

@Suite("The rest of the public surface")
struct SurfaceTests {
    @Test("the task executor and the NIO event loop of a loop keep work on its thread")
    func executorAndEventLoop() async throws {
        let loop = AsyncLoop()
        let loopThread = try await loop.run { _ in threadID() }
        let viaPreference = await Task(executorPreference: loop.taskExecutor) { threadID() }.value
        let viaNIO = try await loop.eventLoop.submit { threadID() }.get()
        #expect(viaPreference == loopThread)
        #expect(viaNIO == loopThread)
        await loop.shutdown()
    }

    @Test("whenDone, isDone and the task name")
    func whenDone() async throws {
        let seen = Recorder<Int>()
        try await AsyncLoop.run { loop in
            let task = loop.createTask(name: "answer") { 42 }
            #expect(task.name == "answer")
            let event = AsyncEvent()
            task.whenDone { result in
                if case .success(let value) = result { seen.append(value) }
                event.set()
            }
            try await event.wait()
            #expect(task.isDone)
            #expect(!task.isCancelled)
            #expect(loop.createTask { 1 }.name.hasPrefix("task-"))
        }
        #expect(seen.all == [42])
    }

    @Test("queue and barrier accessors, abort and notify(1)")
    func accessors() async throws {
        try await AsyncLoop.run { loop in
            let queue = AsyncQueue<String>(maxSize: 3)
            #expect(queue.maxSize == 3)
            #expect(queue.isEmpty)
            try queue.putNowait("a")
            #expect(queue.count == 1)

            let barrier = AsyncBarrier(parties: 2)
            #expect(barrier.parties == 2)
            let waiter = loop.createTask { try await barrier.wait() }
            while barrier.waiting < 1 { await loop.yield() }
            #expect(barrier.waiting == 1)
            barrier.abort()
            await #expect(throws: AsyncLoopError.self) { try await waiter.value }
            await #expect(throws: AsyncLoopError.self) { try await barrier.wait() }

            let condition = AsyncCondition()
            let woken = Recorder<Int>()
            let waiters = (0..<2).map { index in
                loop.createTask {
                    try await condition.withLock {
                        try await condition.wait()
                        woken.append(index)
                    }
                }
            }
            while condition.waitingCount < 2 { await loop.yield() }
            try await condition.withLock { condition.notify(1) }
            while woken.all.isEmpty { await loop.yield() }
            // Both waited, one was notified: the first, and only it.
            #expect(woken.all == [0])
            #expect(condition.waitingCount == 1)
            try await condition.withLock { condition.notifyAll() }
            _ = try await loop.gather(waiters)
            #expect(woken.all == [0, 1])

            let semaphore = AsyncSemaphore(value: 1)
            #expect(!semaphore.isLocked)
            try await semaphore.acquire()
            #expect(semaphore.isLocked)
        }
    }

    @Test("TCP reads in chunks and reports the remote address")
    func tcpChunks() async throws {
        try await AsyncLoop.run { loop in
            let server = try await loop.startServer { stream in
                #expect(stream.remoteAddress?.hasPrefix("127.0.0.1:") == true)
                try await stream.write(Array(repeating: UInt8(7), count: 10))
            }
            #expect(server.host == "127.0.0.1")
            let total = try await loop.openConnection(host: "127.0.0.1", port: server.port) { stream in
                var total = 0
                while true {
                    let chunk = try await stream.read(maxBytes: 3)
                    if chunk.isEmpty { break }
                    #expect(chunk.count <= 3)
                    total += chunk.count
                }
                return total
            }
            #expect(total == 10)
            await server.close()
            await server.close()
        }
    }

    @Test("errors describe themselves with their cause")
    func errorDescription() {
        let error = AsyncLoopError(.fileFailed, message: "could not read x", underlying: Boom())
        #expect(error.description.hasPrefix("could not read x (cause: "))
        #expect(error == AsyncLoopError(.fileFailed, message: "could not read x"))
        #expect(AsyncLoopError.Code.timedOut.description == "timedOut")
    }
}
