import Testing
import TriadThreads

@Suite("Barrier")
struct BarrierTests {
    @Test("all parties pass together, with distinct indices, and the action runs once per round")
    func passes() async throws {
        let actions = Counter()
        let barrier = Barrier(parties: 3, action: { actions.increment() })
        #expect(barrier.parties == 3)
        let threads = try startThreads(3) { _ in
            [try barrier.wait(timeout: .seconds(600)), try barrier.wait(timeout: .seconds(600))]
        }
        var indices: [[Int]] = []
        for thread in threads { indices.append(try await thread.join()) }
        #expect(Set(indices.map { $0[0] }) == [0, 1, 2])
        #expect(Set(indices.map { $0[1] }) == [0, 1, 2])
        #expect(actions.count == 2)
        #expect(!barrier.isBroken)
        #expect(barrier.waitingCount == 0)
    }

    @Test("abort breaks the barrier for every waiter and every later arrival, until reset")
    func abort() async throws {
        let barrier = Barrier(parties: 3)
        let waiters = try startThreads(2) { _ in try barrier.wait(timeout: .seconds(600)) }
        try await onThread {
            while barrier.waitingCount < 2 { sleepOnThread(.milliseconds(5)) }
            barrier.abort()
        }
        for outcome in await outcomes(waiters) { #expect(threadingCode(outcome) == .brokenBarrier) }
        #expect(barrier.isBroken)
        let late = await attempt { try await onThread { try barrier.wait(timeout: .seconds(600)) } }
        #expect(threadingCode(late) == .brokenBarrier)
        barrier.reset()
        #expect(!barrier.isBroken)
        let again = try startThreads(3) { _ in try barrier.wait(timeout: .seconds(600)) }
        for outcome in await outcomes(again) { #expect((try? outcome.get()) != nil) }
    }

    @Test("a timeout breaks the barrier for the waiter and for the others")
    func timeout() async throws {
        let barrier = Barrier(parties: 3, timeout: .seconds(600))
        let patient = Thread { try barrier.wait() }
        try patient.start()
        try await onThread { while barrier.waitingCount < 1 { sleepOnThread(.milliseconds(5)) } }
        let impatient = await attempt { try await onThread { try barrier.wait(timeout: .milliseconds(50)) } }
        #expect(threadingCode(impatient) == .brokenBarrier)
        #expect(threadingCode(await outcomes([patient])[0]) == .brokenBarrier)
        #expect(barrier.isBroken)
        let late = await attempt { try await onThread { try barrier.wait() } }
        if case .failure(let error as ThreadingError) = late {
            #expect(error.message.contains("timed out"))
        } else {
            Issue.record("a late arrival passed a broken barrier")
        }
    }

    @Test("an action that throws breaks the barrier; its thread gets the action's error")
    func failingAction() async throws {
        let barrier = Barrier(parties: 2, action: { throw TestFailure(reason: "action") })
        let threads = try startThreads(2) { _ in try barrier.wait(timeout: .seconds(600)) }
        let results = await outcomes(threads)
        let actionErrors = results.filter {
            if case .failure(let error as TestFailure) = $0 { return error.reason == "action" }
            return false
        }
        #expect(actionErrors.count == 1)
        #expect(results.filter { threadingCode($0) == .brokenBarrier }.count == 1)
    }

    @Test("reset while threads wait breaks their round")
    func resetWhileWaiting() async throws {
        let barrier = Barrier(parties: 2)
        let waiter = Thread { try barrier.wait(timeout: .seconds(600)) }
        try waiter.start()
        try await onThread { while barrier.waitingCount < 1 { sleepOnThread(.milliseconds(5)) } }
        barrier.reset()
        #expect(threadingCode(await outcomes([waiter])[0]) == .brokenBarrier)
        #expect(!barrier.isBroken)
    }

    @Test("the barrier's default timeout applies to waits that give none")
    func defaultTimeout() async throws {
        let barrier = Barrier(parties: 2, timeout: .milliseconds(50))
        #expect(barrier.defaultTimeout == .milliseconds(50))
        let outcome = await attempt { try await onThread { try barrier.wait() } }
        #expect(threadingCode(outcome) == .brokenBarrier)
    }

    @Test("an abort while the action runs breaks the round for every party")
    func abortDuringAction() async throws {
        let inAction = Event()
        let proceed = Event()
        let barrier = Barrier(parties: 2, action: {
            inAction.set()
            proceed.wait()
        })
        let threads = try startThreads(2) { _ in try barrier.wait(timeout: .seconds(600)) }
        try await inAction.wait(timeout: .seconds(600))
        barrier.abort()
        proceed.set()
        for outcome in await outcomes(threads) { #expect(threadingCode(outcome) == .brokenBarrier) }
    }
}
