import Testing
import TriadThreads

@Suite("Event")
struct EventTests {
    @Test("set, clear and isSet")
    func flag() throws {
        let event = Event()
        #expect(!event.isSet)
        event.set()
        event.set()
        #expect(event.isSet)
        try event.wait(timeout: .milliseconds(1))
        event.clear()
        #expect(!event.isSet)
    }

    @Test("a blocking wait times out while the flag is down and wakes when it is set")
    func blockingWait() async throws {
        let event = Event()
        let outcome = await attempt { try await onThread { try event.wait(timeout: .milliseconds(50)) } }
        #expect(threadingCode(outcome) == .timedOut)
        let waiters = try startThreads(3) { _ in event.wait() }
        event.set()
        for waiter in waiters { try await waiter.join() }
    }

    @Test("an async wait times out, wakes on set, and is cancellable")
    func asyncWait() async throws {
        let event = Event()
        await #expect(throws: ThreadingError.self) { try await event.wait(timeout: .milliseconds(50)) }
        let waiter = Task { try await event.wait() }
        let cancelled = Task { try await event.wait() }
        cancelled.cancel()
        #expect(threadingCode(await cancelled.result) == .cancelled)
        try await onThread {
            sleepOnThread(.milliseconds(20))
            event.set()
        }
        try await waiter.value
        try await event.wait(timeout: .seconds(1))
    }
}
