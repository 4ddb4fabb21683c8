import Testing
import TriadThreads

@Suite("Timer and ThreadLocal")
struct TimerTests {
    @Test("a timer runs its action on its own thread after the interval")
    func fires() async throws {
        let ran = Recorder<Int32>()
        let timer = Timer(after: .milliseconds(20)) { ran.append(Threading.currentNativeID) }
        #expect(timer.interval == .milliseconds(20))
        try timer.start()
        try await timer.join()
        #expect(timer.hasFired)
        #expect(!timer.isAlive)
        #expect(ran.all.count == 1)
        #expect(ran.all.first != Threading.currentNativeID)
    }

    @Test("a timer cancelled before its interval never runs its action")
    func cancels() async throws {
        let ran = Counter()
        let timer = Timer(after: .seconds(30)) { ran.increment() }
        try timer.start()
        timer.cancel()
        try await timer.join()
        #expect(!timer.hasFired)
        #expect(ran.count == 0)
        timer.cancel()
        try await onThread { timer.join() }
    }

    @Test("each thread sees its own copy of a thread-local value")
    func threadLocal() async throws {
        let local = ThreadLocal { 0 }
        local.value = 1
        let seen = try startThreads(3) { index in
            let first = local.value
            local.value = index + 10
            local.withValue { $0 += 1 }
            return [first, local.value]
        }
        var values: [[Int]] = []
        for thread in seen { values.append(try await thread.join()) }
        #expect(values == [[0, 11], [0, 12], [0, 13]])
    }

    @Test("a thread's copy is released when the thread exits")
    func threadLocalRelease() async throws {
        let local = ThreadLocal<Tracked?> { nil }
        let released = Counter()
        try await onThread { local.value = Tracked(released) }
        // The copy goes when the pthread exits, just after join has returned.
        for _ in 0..<2_000 where released.count == 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(released.count == 1)
    }
}

final class Tracked: Sendable {
    let counter: Counter
    init(_ counter: Counter) { self.counter = counter }
    deinit { counter.increment() }
}
