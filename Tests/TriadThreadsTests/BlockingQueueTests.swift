import Testing
import TriadCore
import TriadThreads

@Suite("BlockingQueue")
struct BlockingQueueTests {
    @Test("FIFO order")
    func fifo() throws {
        let queue = BlockingQueue<Int>()
        for item in [3, 1, 2] { try queue.putNowait(item) }
        #expect(queue.count == 3)
        #expect(try [queue.getNowait(), queue.getNowait(), queue.getNowait()] == [3, 1, 2])
        #expect(queue.isEmpty)
    }

    @Test("LIFO order")
    func lifo() throws {
        let queue = BlockingQueue<Int>(order: .lifo)
        for item in [3, 1, 2] { try queue.putNowait(item) }
        #expect(try [queue.getNowait(), queue.getNowait(), queue.getNowait()] == [2, 1, 3])
    }

    @Test("priority order, smallest first, equal priorities in arrival order")
    func priority() throws {
        let queue = BlockingQueue<Int>(order: .priority)
        for item in [5, 1, 4, 2, 3, 1] { try queue.putNowait(item) }
        var drained: [Int] = []
        while let item = try? queue.getNowait() { drained.append(item) }
        #expect(drained == [1, 1, 2, 3, 4, 5])

        let tasks = BlockingQueue<(priority: Int, name: String)>(order: .priority(by: { $0.priority < $1.priority }))
        for task in [(2, "b1"), (1, "a"), (2, "b2"), (0, "z"), (2, "b3")] { try tasks.putNowait(task) }
        var names: [String] = []
        while let task = try? tasks.getNowait() { names.append(task.name) }
        #expect(names == ["z", "a", "b1", "b2", "b3"])
    }

    @Test("a full queue refuses putNowait with full and times out a blocking put")
    func full() async throws {
        let queue = BlockingQueue<Int>(maxSize: 2)
        #expect(queue.maxSize == 2)
        try queue.putNowait(1)
        try queue.putNowait(2)
        #expect(queue.isFull)
        #expect(throws: ThreadingError.self) { try queue.putNowait(3) }
        do { try queue.putNowait(3) } catch { #expect(error.code == .full) }
        let blocking = await attempt { try await onThread { try queue.put(3, timeout: .milliseconds(50)) } }
        #expect(threadingCode(blocking) == .timedOut)
        await #expect(throws: ThreadingError.self) { try await queue.put(3, timeout: .milliseconds(50)) }
        #expect(queue.count == 2)
        let putter = Thread { try queue.put(3, timeout: .seconds(600)) }
        try putter.start()
        #expect(try await queue.get() == 1)
        try await putter.join()
        #expect(try queue.getNowait() == 2)
        #expect(try queue.getNowait() == 3)
    }

    @Test("an empty queue refuses getNowait with empty and times out a blocking get")
    func empty() async throws {
        let queue = BlockingQueue<String>()
        do {
            _ = try queue.getNowait()
            Issue.record("an empty queue gave an item")
        } catch {
            #expect(error.code == .empty)
        }
        let blocking = await attempt { try await onThread { try queue.get(timeout: .milliseconds(50)) } }
        #expect(threadingCode(blocking) == .timedOut)
        await #expect(throws: ThreadingError.self) { try await queue.get(timeout: .milliseconds(50)) }
        let getter = Thread { try queue.get(timeout: .seconds(600)) }
        try getter.start()
        try queue.putNowait("late")
        #expect(try await getter.join() == "late")
    }

    @Test("async get and put suspend and hand items over to and from threads")
    func asyncVariants() async throws {
        let queue = BlockingQueue<Int>(maxSize: 1)
        let producer = Thread {
            for item in 0..<100 { try queue.put(item) }
        }
        try producer.start()
        var received: [Int] = []
        for _ in 0..<100 { received.append(try await queue.get()) }
        try await producer.join()
        #expect(received == Array(0..<100))

        try await queue.put(1)
        let waiter = Task { try await queue.put(2, timeout: .seconds(600)) }
        #expect(try await queue.get(timeout: .seconds(600)) == 1)
        try await waiter.value
        #expect(try queue.getNowait() == 2)
        let cancelled = Task { try await queue.get() }
        cancelled.cancel()
        #expect(threadingCode(await cancelled.result) == .cancelled)
    }

    @Test("two threads ping-pong items through two queues")
    func pingPong() async throws {
        let ping = BlockingQueue<Int>()
        let pong = BlockingQueue<Int>()
        let echo = Thread {
            while let item = try? ping.get() { try pong.put(item + 1) }
        }
        try echo.start()
        let total = try await onThread { () -> Int in
            var total = 0
            for item in 0..<1_000 {
                try ping.put(item)
                total += try pong.get(timeout: .seconds(600))
            }
            return total
        }
        ping.close()
        try await echo.join()
        #expect(total == (1...1_000).reduce(0, +))
    }

    @Test("taskDone and join track unfinished items")
    func taskTracking() async throws {
        let queue = BlockingQueue<Int>()
        for item in 0..<5 { try queue.putNowait(item) }
        #expect(queue.unfinishedTasks == 5)
        let joinTimeout = await attempt { try await onThread { try queue.join(timeout: .milliseconds(50)) } }
        #expect(threadingCode(joinTimeout) == .timedOut)
        let worker = Thread {
            while let _ = try? queue.getNowait() { queue.taskDone() }
        }
        let joiner = Thread { queue.join() }
        try joiner.start()
        try worker.start()
        try await worker.join()
        try await joiner.join()
        try await queue.join()
        #expect(queue.unfinishedTasks == 0)
    }

    @Test("closing stops puts, lets the remaining items out, then ends gets")
    func close() async throws {
        let queue = BlockingQueue<Int>(maxSize: 1)
        try queue.putNowait(1)
        let blockedPut = Thread { try queue.put(2) }
        try blockedPut.start()
        let emptyQueue = BlockingQueue<Int>()
        let blockedGet = Thread { try emptyQueue.get() }
        try blockedGet.start()
        try await onThread { sleepOnThread(.milliseconds(20)) }
        queue.close()
        emptyQueue.close()
        #expect(queue.isClosed)
        #expect(threadingCode(await outcomes([blockedPut])[0]) == .closed)
        #expect(threadingCode(await outcomes([blockedGet])[0]) == .closed)
        do { try queue.putNowait(3) } catch { #expect(error.code == .closed) }
        #expect(try await queue.get() == 1)
        do {
            _ = try queue.getNowait()
            Issue.record("a closed, drained queue gave an item")
        } catch {
            #expect(error.code == .closed)
        }
        await #expect(throws: ThreadingError.self) { try await queue.get() }
    }
}
