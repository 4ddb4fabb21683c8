import Testing
import TriadThreads

/// OS threads and async tasks waiting on the same primitive: every item and every permit is handed out once.
@Suite("Threads and tasks together")
struct MixedWaitersTests {
    @Test("threads and tasks drain one bounded queue, each item exactly once")
    func sharedQueue() async throws {
        let queue = BlockingQueue<Int>(maxSize: 8)
        let taken = Recorder<Int>()
        let threads = try startThreads(2) { _ in
            while let item = try? queue.get() { taken.append(item) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    while let item = try? await queue.get() { taken.append(item) }
                }
            }
            group.addTask {
                for item in 0..<3_000 { try await queue.put(item) }
                queue.close()
            }
            try await group.waitForAll()
        }
        for thread in threads { try await thread.join() }
        #expect(taken.all.sorted() == Array(0..<3_000))
    }

    @Test("threads and tasks share a lock without losing an update")
    func sharedLock() async throws {
        let lock = Lock()
        let box = UnsafeCounterBox()
        let threads = try startThreads(2) { _ in
            for _ in 0..<2_000 { lock.withLock { box.value += 1 } }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    for _ in 0..<500 { try await lock.withLock { box.value += 1 } }
                }
            }
            try await group.waitForAll()
        }
        for thread in threads { try await thread.join() }
        #expect(box.value == 2 * 2_000 + 3 * 500)
    }

    @Test("a semaphore's permits go round threads and tasks, never more than its value at once")
    func sharedSemaphore() async throws {
        let semaphore = Semaphore(2)
        let inside = Counter()
        let peak = Recorder<Int>()
        let threads = try startThreads(2) { _ in
            for _ in 0..<300 {
                semaphore.acquire()
                peak.append(inside.increment())
                inside.incrementBy(-1)
                semaphore.release()
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    for _ in 0..<300 {
                        try await semaphore.acquire()
                        peak.append(inside.increment())
                        inside.incrementBy(-1)
                        semaphore.release()
                    }
                }
            }
            try await group.waitForAll()
        }
        for thread in threads { try await thread.join() }
        #expect(peak.all.count == 5 * 300)
        #expect(peak.all.max()! <= 2)
        #expect(semaphore.value == 2)
    }
}
