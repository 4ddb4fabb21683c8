import Testing
import TriadThreads

/// Programmer mistakes stop the process with a precondition failure; each test runs its body in a child process.
/// Serialized, because every exit test spawns a process.
@Suite("Preconditions and process exit", .serialized)
struct ExitTests {
    @Test("joining a thread that was never started is a precondition failure")
    func joinBeforeStart() async {
        await #expect(processExitsWith: .failure) {
            let thread = Thread { 1 }
            _ = try? await thread.join()
        }
    }

    @Test("a blocking join of a thread that was never started is a precondition failure")
    func blockingJoinBeforeStart() async {
        await #expect(processExitsWith: .failure) {
            _ = try? joinUnstarted()
        }
    }

    @Test("starting a thread twice is a precondition failure")
    func startTwice() async {
        await #expect(processExitsWith: .failure) {
            let thread = Thread { 1 }
            try? thread.start()
            try? thread.start()
        }
    }

    @Test("with the exit hook, exit waits for non-daemon threads")
    func exitWaitsForNonDaemon() async {
        await #expect(processExitsWith: .exitCode(7)) {
            Threading.joinNonDaemonThreadsAtExit()
            let thread = Thread(daemon: false) {
                sleepOnThread(.milliseconds(200))
                _exitForTest(7)
            }
            try? thread.start()
            exitForTest(0)
        }
    }

    @Test("with the exit hook, exit does not wait for daemon threads")
    func exitSkipsDaemon() async {
        await #expect(processExitsWith: .exitCode(0)) {
            Threading.joinNonDaemonThreadsAtExit()
            let thread = Thread(daemon: true) {
                sleepOnThread(.seconds(5))
                _exitForTest(7)
            }
            try? thread.start()
            exitForTest(0)
        }
    }

    @Test("releasing a lock nobody holds is a precondition failure")
    func releaseUnlocked() async {
        await #expect(processExitsWith: .failure) {
            Lock().release()
        }
    }

    @Test("releasing a re-entrant lock that nobody holds is a precondition failure")
    func releaseUnheldRLock() async {
        await #expect(processExitsWith: .failure) {
            RLock().release()
        }
    }

    @Test("releasing a re-entrant lock from a thread that does not own it is a precondition failure")
    func releaseRLockOfAnotherThread() async {
        await #expect(processExitsWith: .failure) {
            let lock = RLock()
            let owner = Thread { lock.acquire() }
            try? owner.start()
            _ = try? await owner.join()
            let thief = Thread { lock.release() }
            try? thief.start()
            _ = try? await thief.join()
        }
    }

    @Test("waiting on a condition whose lock the caller does not hold is a precondition failure")
    func waitWithoutLock() async {
        await #expect(processExitsWith: .failure) {
            let thread = Thread { try? Condition().wait(timeout: .milliseconds(1)) }
            try? thread.start()
            _ = try? await thread.join()
        }
    }

    @Test("notifying a condition whose lock the caller does not hold is a precondition failure")
    func notifyWithoutLock() async {
        await #expect(processExitsWith: .failure) {
            Condition(lock: Lock()).notify()
        }
        await #expect(processExitsWith: .failure) {
            Condition().notifyAll()
        }
    }

    @Test("over-releasing a bounded semaphore is a precondition failure")
    func overRelease() async {
        await #expect(processExitsWith: .failure) {
            BoundedSemaphore(2).release()
        }
        await #expect(processExitsWith: .failure) {
            let semaphore = BoundedSemaphore(2)
            _ = semaphore.tryAcquire()
            semaphore.release(2)
        }
    }

    @Test("calling taskDone more often than items were put is a precondition failure")
    func taskDoneTooOften() async {
        await #expect(processExitsWith: .failure) {
            BlockingQueue<Int>().taskDone()
        }
    }
}

/// Joins a thread that was never started, from synchronous code as a blocking caller would. It stops the process
/// before it could block.
private func joinUnstarted() throws -> Int {
    try Thread { 1 }.join()
}
