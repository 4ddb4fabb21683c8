import Testing
import TriadThreads

@Suite("Thread")
struct ThreadTests {
    @Test("join returns the body's value, as often as it is called")
    func joinReturnsValue() async throws {
        let thread = Thread(name: "adder") { (1...100).reduce(0, +) }
        #expect(thread.name == "adder")
        #expect(!thread.isAlive)
        #expect(thread.result == nil)
        try thread.start()
        #expect(try await thread.join() == 5050)
        #expect(try await thread.join() == 5050)
        #expect(!thread.isAlive)
        #expect(try thread.result?.get() == 5050)
        let again = try await onThread { try thread.join() }
        #expect(again == 5050)
    }

    @Test("a body that throws makes join throw the same error")
    func throwingBody() async throws {
        let thread = Thread<Int> { throw TestFailure(reason: "boom") }
        try thread.start()
        await #expect(throws: TestFailure(reason: "boom")) { try await thread.join() }
        let blocking = try await onThread { () -> TestFailure? in
            do {
                _ = try thread.join()
                return nil
            } catch let error as TestFailure {
                return error
            }
        }
        #expect(blocking == TestFailure(reason: "boom"))
    }

    @Test("join with a timeout throws timedOut while the thread runs, then returns its value")
    func joinTimeout() async throws {
        let gate = Event()
        let thread = Thread { () -> String in
            gate.wait()
            return "done"
        }
        try thread.start()
        #expect(thread.isAlive)
        let blocking = await attempt { try await onThread { try thread.join(timeout: .milliseconds(50)) } }
        #expect(threadingCode(blocking) == .timedOut)
        await #expect(throws: ThreadingError.self) { try await thread.join(timeout: .milliseconds(50)) }
        #expect(thread.isAlive)
        gate.set()
        #expect(try await thread.join(timeout: .seconds(600)) == "done")
        #expect(!thread.isAlive)
    }

    @Test("each thread has its own stable id, a default name, and a native id once it runs")
    func identity() async throws {
        let first = Thread { Threading.currentNativeID }
        let second = Thread { Threading.currentNativeID }
        #expect(first.id != second.id)
        #expect(first.name == "Thread-\(first.id)")
        #expect(first.nativeID == nil)
        try first.start()
        try second.start()
        let firstNative = try await first.join()
        let secondNative = try await second.join()
        #expect(first.nativeID == firstNative)
        #expect(second.nativeID == secondNative)
        #expect(firstNative != secondNative)
        #expect(firstNative != Threading.currentNativeID)
    }

    @Test("the body runs on a new OS thread named after the thread")
    func runsOnNewThread() async throws {
        let caller = Threading.currentNativeID
        let thread = Thread(name: "triad-test") { Threading.currentNativeID }
        try thread.start()
        #expect(try await thread.join() != caller)
    }

    @Test("joinNonDaemonThreads waits for non-daemon threads and not for daemon ones")
    func daemonSemantics() async throws {
        // In a process of its own: in this one, other suites start non-daemon threads all the time, and the wait
        // covers those as well.
        await #expect(processExitsWith: .success) {
            let release = Event()
            let finished = Counter()
            let daemon = Thread(daemon: true) { release.wait() }
            let worker = Thread(daemon: false) {
                sleepOnThread(.milliseconds(100))
                finished.increment()
            }
            precondition(daemon.isDaemon && !worker.isDaemon)
            try daemon.start()
            try worker.start()
            try await Threading.joinNonDaemonThreads(timeout: .seconds(600))
            precondition(finished.count == 1, "the wait returned before the non-daemon thread ended")
            precondition(!worker.isAlive)
            precondition(daemon.isAlive, "the wait waited for the daemon thread")
            release.set()
            try await daemon.join()
        }
    }

    @Test("joinNonDaemonThreads times out while a non-daemon thread runs")
    func nonDaemonTimeout() async throws {
        let release = Event()
        let worker = Thread { release.wait() }
        try worker.start()
        await #expect(throws: ThreadingError.self) {
            try await Threading.joinNonDaemonThreads(timeout: .milliseconds(50))
        }
        let blocking = await attempt {
            try await onThread { try Threading.joinNonDaemonThreads(timeout: .milliseconds(50)) }
        }
        #expect(threadingCode(blocking) == .timedOut)
        #expect(Threading.nonDaemonCount >= 1)
        release.set()
        try await worker.join()
    }

    @Test("an async join is cancelled with the task that waits")
    func asyncJoinCancellation() async throws {
        let release = Event()
        let thread = Thread { release.wait() }
        try thread.start()
        let waiter = Task { try await thread.join() }
        waiter.cancel()
        let outcome = await waiter.result
        #expect(threadingCode(outcome) == .cancelled)
        release.set()
        try await thread.join()
    }
}
