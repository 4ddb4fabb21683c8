import Testing
import TriadThreads

@Suite("Lock")
struct LockTests {
    @Test("acquire, tryAcquire and release")
    func basics() throws {
        let lock = Lock()
        #expect(!lock.isLocked)
        #expect(lock.tryAcquire())
        #expect(lock.isLocked)
        #expect(!lock.tryAcquire())
        lock.release()
        #expect(!lock.isLocked)
    }

    @Test("two threads incrementing under the lock lose no update")
    func mutualExclusion() async throws {
        let lock = Lock()
        let box = UnsafeCounterBox()
        let threads = try startThreads(2) { _ in
            for _ in 0..<20_000 { lock.withLock { box.value += 1 } }
        }
        for thread in threads { try await thread.join() }
        #expect(box.value == 40_000)
    }

    @Test("a blocking acquire with a timeout throws timedOut while another holds the lock")
    func blockingTimeout() async throws {
        let lock = Lock()
        #expect(lock.tryAcquire())
        let outcome = await attempt { try await onThread { try lock.acquire(timeout: .milliseconds(50)) } }
        #expect(threadingCode(outcome) == .timedOut)
        lock.release()
        try await onThread {
            try lock.acquire(timeout: .seconds(600))
            lock.release()
        }
    }

    @Test("a blocked thread takes the lock once it is released")
    func handOff() async throws {
        let lock = Lock()
        #expect(lock.tryAcquire())
        let waiter = Thread { () -> Bool in
            lock.acquire()
            defer { lock.release() }
            return true
        }
        try waiter.start()
        try await Task.sleep(for: .milliseconds(20))
        #expect(waiter.isAlive)
        lock.release()
        #expect(try await waiter.join())
    }

    @Test("async acquire suspends until release, and times out")
    func asyncAcquire() async throws {
        let lock = Lock()
        try await lock.acquire()
        await #expect(throws: ThreadingError.self) { try await lock.acquire(timeout: .milliseconds(50)) }
        let waiter = Task { () async throws -> Bool in
            try await lock.acquire(timeout: .seconds(600))
            lock.release()
            return true
        }
        try await Task.sleep(for: .milliseconds(20))
        lock.release()
        #expect(try await waiter.value)
        let value = try await lock.withLock { 42 }
        #expect(value == 42)
        let suspended = try await lock.withLock { () async throws -> Int in
            try await Task.sleep(for: .milliseconds(1))
            #expect(lock.isLocked)
            return 7
        }
        #expect(suspended == 7)
        #expect(!lock.isLocked)
    }

    @Test("cancelling an async acquire throws cancelled and leaves the lock to its holder")
    func asyncCancellation() async throws {
        let lock = Lock()
        #expect(lock.tryAcquire())
        let waiter = Task { try await lock.acquire() }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        let outcome = await waiter.result
        #expect(threadingCode(outcome) == .cancelled)
        #expect(lock.isLocked)
        lock.release()
    }
}

@Suite("RLock")
struct RLockTests {
    @Test("the owner may acquire again and must release as often")
    func reentrancy() async throws {
        let lock = RLock()
        let depths = try await onThread { () -> [Int] in
            lock.acquire()
            lock.acquire()
            #expect(lock.tryAcquire())
            var depths = [lock.recursionDepth]
            lock.release()
            depths.append(lock.recursionDepth)
            lock.release()
            lock.release()
            depths.append(lock.recursionDepth)
            #expect(!lock.isOwnedByCurrentThread)
            return depths
        }
        #expect(depths == [3, 2, 0])
    }

    @Test("another thread times out while the owner holds it, and gets it once released")
    func timeout() async throws {
        let lock = RLock()
        let held = Event()
        let release = Event()
        let owner = Thread {
            lock.acquire()
            held.set()
            release.wait()
            lock.release()
        }
        try owner.start()
        try await held.wait(timeout: .seconds(600))
        let outcome = await attempt { try await onThread { try lock.acquire(timeout: .milliseconds(50)) } }
        #expect(threadingCode(outcome) == .timedOut)
        #expect(try await onThread { !lock.tryAcquire() })
        release.set()
        try await owner.join()
        try await onThread {
            try lock.acquire(timeout: .seconds(600))
            lock.withLock { lock.release(); lock.acquire() }
            lock.release()
        }
    }
}

/// A plain counter that the tests protect with the lock under test.
final class UnsafeCounterBox: @unchecked Sendable {
    // Guarded by the lock of the test that uses it.
    var value = 0
}
