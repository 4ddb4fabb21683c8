import Testing
import TriadThreads

@Suite("ThreadingError")
struct ThreadingErrorTests {
    @Test("an error prints its message and compares by code and message")
    func description() {
        let error = ThreadingError(.full, message: "the queue is full")
        #expect(error.description == "the queue is full")
        #expect(error == ThreadingError(.full, message: "the queue is full"))
        #expect(error != ThreadingError(.empty, message: "the queue is full"))
        #expect(ThreadingError.Code.timedOut.description == "timedOut")
        #expect(ThreadingError.Code.brokenBarrier.rawValue == "brokenBarrier")
    }

    @Test("a timeout's message says how long it waited and for what")
    func timeoutMessage() async throws {
        let outcome = await attempt { try await Event().wait(timeout: .milliseconds(10)) }
        guard case .failure(let error as ThreadingError) = outcome else {
            Issue.record("the wait did not time out")
            return
        }
        #expect(error.code == .timedOut)
        #expect(error.message.contains("0.01 seconds"))
        #expect(error.message.contains("an event to be set"))
    }
}
