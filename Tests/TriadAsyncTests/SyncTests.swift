import Synchronization
import Testing
import TriadAsync
import TriadCore
import TriadTestSupport

@Suite("Async synchronization")
struct SyncTests {
    @Test("a FIFO queue hands items out in order, with suspending put and get")
    func fifoQueue() async throws {
        let received = try await AsyncLoop.run { loop in
            let queue = AsyncQueue<Int>(maxSize: 2)
            let producer = loop.createTask {
                for item in 0..<10 { try await queue.put(item) }
            }
            var received: [Int] = []
            for _ in 0..<10 { received.append(try await queue.get()) }
            try await producer.value
            return received
        }
        #expect(received == Array(0..<10))
    }

    @Test("put suspends while the queue is full")
    func putSuspendsWhenFull() async throws {
        try await AsyncLoop.run { loop in
            let queue = AsyncQueue<Int>(maxSize: 1)
            try await queue.put(1)
            #expect(queue.isFull)
            #expect(throws: AsyncLoopError.self) { try queue.putNowait(2) }
            let putter = loop.createTask { try await queue.put(2) }
            while queue.waitingPutters < 1 { await loop.yield() }
            #expect(!putter.isDone)
            #expect(try await queue.get() == 1)
            try await putter.value
            #expect(try queue.getNowait() == 2)
            #expect(throws: AsyncLoopError.self) { try queue.getNowait() }
        }
    }

    @Test("LIFO and priority orders")
    func otherOrders() async throws {
        try await AsyncLoop.run { _ in
            let lifo = AsyncQueue<Int>(order: .lifo)
            for item in [1, 2, 3] { try await lifo.put(item) }
            #expect([try await lifo.get(), try await lifo.get(), try await lifo.get()] == [3, 2, 1])
            let priority = AsyncQueue<Int>.priority()
            for item in [5, 1, 4, 2, 3, 0] { try await priority.put(item) }
            var out: [Int] = []
            while !priority.isEmpty { out.append(try await priority.get()) }
            #expect(out == [0, 1, 2, 3, 4, 5])
            let byLength = AsyncQueue<String>(order: .priority(by: { $0.count > $1.count }))
            for word in ["a", "abc", "ab"] { try byLength.putNowait(word) }
            #expect(try byLength.getNowait() == "abc")
        }
    }

    @Test("a priority queue hands out equal priorities in the order they were put")
    func stablePriority() async throws {
        try await AsyncLoop.run { _ in
            let queue = AsyncQueue<(priority: Int, label: String)>(order: .priority(by: { $0.priority < $1.priority }))
            for item in [(2, "a"), (1, "b"), (2, "c"), (1, "d"), (0, "e"), (2, "f"), (1, "g")] {
                try queue.putNowait(item)
            }
            var labels: [String] = []
            while !queue.isEmpty { labels.append(try queue.getNowait().label) }
            #expect(labels == ["e", "b", "d", "g", "a", "c", "f"])
        }
    }

    @Test("a cancelled get leaves the queue and loses no item")
    func cancelledGet() async throws {
        try await AsyncLoop.run { loop in
            let queue = AsyncQueue<Int>()
            let getter = loop.createTask { try await queue.get() }
            while queue.waitingGetters < 1 { await loop.yield() }
            getter.cancel()
            await #expect(throws: CancellationError.self) { try await getter.value }
            try await queue.put(42)
            #expect(queue.count == 1)
            #expect(try await queue.get() == 42)
        }
    }

    @Test("taskDone and join track unfinished items")
    func join() async throws {
        let order = Recorder<String>()
        try await AsyncLoop.run { loop in
            let queue = AsyncQueue<Int>()
            for item in 0..<3 { try await queue.put(item) }
            loop.createTask {
                while true {
                    _ = try await queue.get()
                    try await loop.sleep(for: .milliseconds(2))
                    order.append("done")
                    queue.taskDone()
                }
            }
            await queue.join()
            order.append("joined")
        }
        #expect(order.all == ["done", "done", "done", "joined"])
    }

    @Test("a semaphore never lets more than its value in")
    func semaphoreLimit() async throws {
        let peak = try await AsyncLoop.run { loop in
            let semaphore = AsyncSemaphore(value: 3)
            let inside = Mutex((now: 0, peak: 0))
            _ = try await loop.gather((0..<30).map { index in
                {
                    try await semaphore.withPermit {
                        inside.withLock {
                            $0.now += 1
                            $0.peak = max($0.peak, $0.now)
                        }
                        try await loop.sleep(for: .milliseconds(1 + index % 3))
                        inside.withLock { $0.now -= 1 }
                    }
                }
            })
            #expect(semaphore.availablePermits == 3)
            return inside.withLock { $0.peak }
        }
        #expect(peak == 3)
    }

    @Test("a cancelled acquire takes no permit")
    func cancelledAcquire() async throws {
        try await AsyncLoop.run { loop in
            let semaphore = AsyncSemaphore(value: 1)
            try await semaphore.acquire()
            let waiter = loop.createTask { try await semaphore.acquire() }
            while semaphore.waitingCount < 1 { await loop.yield() }
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            semaphore.release()
            #expect(semaphore.availablePermits == 1)
            #expect(semaphore.tryAcquire())
            #expect(!semaphore.tryAcquire())
        }
    }

    @Test("a bounded semaphore starts full")
    func boundedSemaphore() async throws {
        let semaphore = AsyncBoundedSemaphore.bounded(2)
        #expect(semaphore.availablePermits == 2)
        try await semaphore.acquire()
        semaphore.release()
        #expect(semaphore.availablePermits == 2)
    }

    @Test("releasing a bounded semaphore too often stops the program")
    func boundedOverRelease() async {
        await #expect(processExitsWith: .failure) {
            AsyncSemaphore.bounded(1).release()
        }
    }

    @Test("a lock is acquired and released by hand, and a waiter gets it on release")
    func lockAcquireRelease() async throws {
        try await AsyncLoop.run { loop in
            let lock = AsyncLock()
            try await lock.acquire()
            #expect(lock.isLocked)
            let waiter = loop.createTask {
                try await lock.acquire()
                lock.release()
            }
            while lock.waitingCount < 1 { await loop.yield() }
            #expect(lock.isLocked)
            lock.release()
            try await waiter.value
            #expect(!lock.isLocked)
        }
    }

    @Test("releasing a lock that nobody holds stops the program")
    func lockReleaseUnheld() async {
        await #expect(processExitsWith: .failure) {
            AsyncLock().release()
        }
    }

    @Test("a lock serializes critical sections that suspend")
    func lock() async throws {
        let trace = Recorder<String>()
        try await AsyncLoop.run { loop in
            let lock = AsyncLock()
            _ = try await loop.gather((0..<3).map { index in
                {
                    try await lock.withLock {
                        trace.append("in\(index)")
                        try await loop.sleep(for: .milliseconds(2))
                        trace.append("out\(index)")
                    }
                }
            })
            #expect(!lock.isLocked)
        }
        #expect(trace.all == ["in0", "out0", "in1", "out1", "in2", "out2"])
    }

    @Test("an event wakes every waiter")
    func event() async throws {
        try await AsyncLoop.run { loop in
            let event = AsyncEvent()
            let waiters = (0..<5).map { index in loop.createTask { try await event.wait(); return index } }
            while event.waitingCount < 5 { await loop.yield() }
            #expect(!waiters.contains { $0.isDone })
            event.set()
            #expect(try await loop.gather(waiters) == [0, 1, 2, 3, 4])
            #expect(event.isSet)
            try await event.wait()
            event.clear()
            #expect(!event.isSet)
        }
    }

    @Test("a condition wakes waiters on notify")
    func condition() async throws {
        let result = try await AsyncLoop.run { loop in
            let condition = AsyncCondition()
            let items = Mutex<[Int]>([])
            let consumer = loop.createTask {
                try await condition.withLock {
                    try await condition.wait(until: { items.withLock { !$0.isEmpty } })
                    return items.withLock { $0.removeFirst() }
                }
            }
            while condition.waitingCount < 1 { await loop.yield() }
            try await condition.withLock {
                items.withLock { $0.append(99) }
                condition.notifyAll()
            }
            return try await consumer.value
        }
        #expect(result == 99)
    }

    @Test("a barrier releases all parties together, round after round")
    func barrier() async throws {
        let trace = Recorder<String>()
        try await AsyncLoop.run { loop in
            let barrier = AsyncBarrier(parties: 3)
            let indices = try await loop.gather((0..<3).map { index in
                {
                    var indices: [Int] = []
                    for round in 0..<2 {
                        trace.append("arrive\(round)")
                        indices.append(try await barrier.wait())
                        trace.append("leave\(round)")
                    }
                    return indices
                }
            })
            #expect(Set(indices.map { $0[0] }) == [0, 1, 2])
        }
        let all = trace.all
        #expect(all.prefix(3).allSatisfy { $0 == "arrive0" })
        #expect(all.lastIndex(of: "arrive0")! < all.firstIndex(of: "leave0")!)
    }

    @Test("a cancelled party breaks the barrier for the others")
    func brokenBarrier() async throws {
        try await AsyncLoop.run { loop in
            let barrier = AsyncBarrier(parties: 3)
            let first = loop.createTask { try await barrier.wait() }
            let second = loop.createTask { try await barrier.wait() }
            // Both must wait before the cancellation, or the second would wait for a third party forever.
            while barrier.waiting < 2 { await loop.yield() }
            first.cancel()
            await #expect(throws: CancellationError.self) { try await first.value }
            await #expect(throws: AsyncLoopError.self) { try await second.value }
            #expect(barrier.isBroken)
            barrier.reset()
            #expect(!barrier.isBroken)
        }
    }
}
