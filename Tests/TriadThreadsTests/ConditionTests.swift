import Testing
import TriadThreads

@Suite("Condition")
struct ConditionTests {
    @Test("a notified waiter wakes with the lock held")
    func notifyWakes() async throws {
        let condition = Condition()
        let box = UnsafeCounterBox()
        let consumer = Thread { () -> Int in
            try condition.withLock { () throws(ThreadingError) -> Int in
                try condition.wait(for: { box.value > 0 }, timeout: .seconds(600))
                return box.value
            }
        }
        try consumer.start()
        try await onThread {
            sleepOnThread(.milliseconds(20))
            condition.withLock {
                box.value = 7
                condition.notify()
            }
        }
        #expect(try await consumer.join() == 7)
    }

    @Test("wait with a timeout throws timedOut and holds the lock again")
    func waitTimeout() async throws {
        let lock = RLock()
        let condition = Condition(lock: lock)
        let outcome = try await onThread { () -> ThreadingError.Code? in
            condition.acquire()
            defer { condition.release() }
            do {
                try condition.wait(timeout: .milliseconds(50))
                return nil
            } catch let error as ThreadingError {
                #expect(lock.isOwnedByCurrentThread)
                return error.code
            }
        }
        #expect(outcome == .timedOut)
    }

    @Test("wait(for:) returns at once when the predicate holds, and times out when it never does")
    func predicate() async throws {
        let condition = Condition(lock: Lock())
        let codes = try await onThread { () -> [ThreadingError.Code?] in
            condition.acquire()
            defer { condition.release() }
            var codes: [ThreadingError.Code?] = []
            do {
                try condition.wait(for: { true }, timeout: .milliseconds(1))
                codes.append(nil)
                try condition.wait(for: { false }, timeout: .milliseconds(50))
                codes.append(nil)
            } catch let error as ThreadingError {
                codes.append(error.code)
            }
            return codes
        }
        #expect(codes == [nil, .timedOut])
    }

    @Test("notify(n) wakes n waiters and notifyAll wakes the rest")
    func notifyCount() async throws {
        let condition = Condition()
        let waiting = Counter()
        let woken = Counter()
        let waiters = try startThreads(4) { _ in
            try condition.withLock { () throws(ThreadingError) in
                waiting.increment()
                try condition.wait(timeout: .seconds(600))
                woken.increment()
            }
        }
        try await onThread {
            while condition.withLock({ waiting.count }) < 4 { sleepOnThread(.milliseconds(5)) }
            condition.withLock { condition.notify(2) }
            // Give the two notified waiters time to run, then a little more to see that no third one wakes.
            for _ in 0..<6_000 where woken.count < 2 { sleepOnThread(.milliseconds(5)) }
            sleepOnThread(.milliseconds(50))
        }
        #expect(woken.count == 2)
        try await onThread { condition.withLock { condition.notifyAll() } }
        for waiter in waiters { try await waiter.join() }
        #expect(woken.count == 4)
    }

    @Test("a condition over a plain lock notifies while the lock is held, and acquires with a timeout")
    func plainLock() async throws {
        let plain = Condition(lock: Lock())
        try await onThread {
            plain.acquire()
            plain.notify()
            plain.release()
            try plain.acquire(timeout: .seconds(1))
            plain.release()
        }
    }

    @Test("acquiring a condition's lock times out while another thread holds it")
    func acquireTimeout() async throws {
        let condition = Condition()
        let held = Event()
        let release = Event()
        let holder = Thread {
            condition.acquire()
            held.set()
            release.wait()
            condition.release()
        }
        try holder.start()
        try await held.wait(timeout: .seconds(600))
        let outcome = await attempt { try await onThread { try condition.acquire(timeout: .milliseconds(50)) } }
        #expect(threadingCode(outcome) == .timedOut)
        release.set()
        try await holder.join()
    }

    @Test("a condition over a re-entrant lock held twice restores both levels after a wait")
    func reentrantWait() async throws {
        let lock = RLock()
        let condition = Condition(lock: lock)
        let depth = try await onThread { () -> Int in
            lock.acquire()
            lock.acquire()
            try? condition.wait(timeout: .milliseconds(20))
            let depth = lock.recursionDepth
            lock.release()
            lock.release()
            return depth
        }
        #expect(depth == 2)
    }
}
