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

    @Test("calling taskDone more often than items were put is a precondition failure")
    func taskDoneTooOften() async {
        await #expect(processExitsWith: .failure) {
            BlockingQueue<Int>().taskDone()
        }
    }
}
