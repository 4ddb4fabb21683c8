import Testing
import TriadThreads

@Suite("Semaphore and BoundedSemaphore")
struct SemaphoreTests {
    @Test("permits are taken and given back")
    func counting() {
        let semaphore = Semaphore(2)
        #expect(semaphore.tryAcquire())
        #expect(semaphore.tryAcquire())
        #expect(!semaphore.tryAcquire())
        #expect(semaphore.value == 0)
        semaphore.release(2)
        #expect(semaphore.value == 2)
        semaphore.release()
        #expect(semaphore.value == 3)
    }

    @Test("a blocking acquire times out when no permit is free, and succeeds once one is")
    func blockingTimeout() async throws {
        let semaphore = Semaphore(0)
        let outcome = await attempt { try await onThread { try semaphore.acquire(timeout: .milliseconds(50)) } }
        #expect(threadingCode(outcome) == .timedOut)
        let waiter = Thread { semaphore.acquire() }
        try waiter.start()
        semaphore.release()
        try await waiter.join()
        #expect(semaphore.value == 0)
    }

    @Test("async acquire suspends until a release, and times out")
    func asyncAcquire() async throws {
        let semaphore = Semaphore(0)
        await #expect(throws: ThreadingError.self) { try await semaphore.acquire(timeout: .milliseconds(50)) }
        let waiter = Task { try await semaphore.acquire(timeout: .seconds(600)) }
        try await onThread {
            sleepOnThread(.milliseconds(20))
            semaphore.release()
        }
        try await waiter.value
        semaphore.release()
        try await semaphore.acquire()
    }

    @Test("a semaphore limits concurrency to its value")
    func limitsConcurrency() async throws {
        let semaphore = Semaphore(2)
        let inside = Counter()
        let peak = Recorder<Int>()
        let threads = try startThreads(6) { _ in
            semaphore.acquire()
            peak.append(inside.increment())
            sleepOnThread(.milliseconds(10))
            _ = inside.decrementForTest()
            semaphore.release()
        }
        for thread in threads { try await thread.join() }
        #expect(peak.all.max()! <= 2)
        #expect(semaphore.value == 2)
    }

    @Test("a bounded semaphore gives back what was acquired, up to its bound")
    func boundedRelease() async throws {
        let semaphore = BoundedSemaphore(2)
        #expect(semaphore.bound == 2)
        #expect(semaphore.value == 2)
        try await semaphore.acquire()
        try await semaphore.acquire(timeout: .seconds(1))
        #expect(!semaphore.tryAcquire())
        semaphore.release()
        semaphore.release()
        #expect(semaphore.value == 2)
        try await semaphore.acquire()
        await #expect(throws: ThreadingError.self) {
            try await semaphore.acquire()
            try await semaphore.acquire(timeout: .milliseconds(50))
        }
        let outcome = await attempt { try await onThread { try semaphore.acquire(timeout: .milliseconds(50)) } }
        #expect(threadingCode(outcome) == .timedOut)
    }
}

extension Counter {
    func decrementForTest() -> Int { incrementBy(-1) }
}
