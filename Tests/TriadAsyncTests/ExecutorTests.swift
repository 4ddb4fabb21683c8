import Synchronization
import Testing
import TriadAsync
import TriadCore
import TriadTestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct SleepJob: Job {
    var milliseconds: Int
    var value: Int

    func run() async throws -> Int {
        try await Task.sleep(for: .milliseconds(milliseconds))
        return value
    }
}

/// A job that waits until the test opens its gate, so that a test can look at running and pending jobs without
/// racing a timer.
struct GatedJob: Job {
    static let gate = AsyncEvent()
    var value: Int

    func run() async throws -> Int {
        try await Self.gate.wait()
        return value
    }
}

struct ThreadJob: Job {
    func run() async throws -> UInt { threadID() }
}

struct FailingJob: Job {
    func run() async throws -> Int { throw Boom() }
}

/// A minimal executor of another kind, to show that `runInExecutor` accepts any Triad executor.
final class InlineExecutor: TriadCore.Executor {
    let workerCount = 1

    func submit<J: Job>(_ job: J, options: JobOptions) throws(ExecutorError) -> JobHandle<J.Output> {
        let handle = JobHandle<J.Output>(jobName: J.jobName)
        _ = handle.markRunning()
        Task.detached {
            do { handle.succeed(try await job.run()) } catch { handle.fail(error) }
        }
        return handle
    }

    func shutdown(wait: Bool, cancelPending: Bool) async {}
}

@Suite("EventLoopExecutor and the bridges")
struct ExecutorTests {
    @Test("jobs run on the loop thread and map returns values in order")
    func mapOnLoop() async throws {
        let executor = EventLoopExecutor(maxConcurrent: 50)
        #expect(executor.workerCount == 50)
        let values = try await executor.map((0..<100).map { SleepJob(milliseconds: 5, value: $0) })
        #expect(values == Array(0..<100))
        let threads = try await executor.map((0..<20).map { _ in ThreadJob() })
        #expect(Set(threads).count == 1)
        await executor.shutdown()
    }

    @Test("at most workerCount jobs run at once")
    func concurrencyLimit() async throws {
        let executor = EventLoopExecutor(maxConcurrent: 2)
        let handles = try (0..<5).map { index throws(ExecutorError) in
            try executor.submit(GatedJob(value: index))
        }
        // Two start at once; give the loop every chance to start more before looking.
        let deadline = ContinuousClock.now + .seconds(5)
        while handles.filter({ $0.state == .running }).count < 2 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        try await Task.sleep(for: .milliseconds(20))
        #expect(handles.filter { $0.state == .running }.count == 2)
        #expect(handles.filter { $0.state == .pending }.count == 3)
        GatedJob.gate.set()
        #expect(try await handles.asyncMap { try await $0.value } == [0, 1, 2, 3, 4])
        await executor.shutdown()
    }

    @Test("a job's error, a timeout and a cancellation resolve the handle")
    func failures() async throws {
        let executor = EventLoopExecutor()
        await #expect(throws: Boom.self) { try await executor.submit(FailingJob()).value }
        let slow = try executor.submit(SleepJob(milliseconds: 30_000, value: 0), options: .init(timeout: .milliseconds(20)))
        await #expect {
            try await slow.value
        } throws: { error in
            (error as? ExecutorError)?.code == .timedOut
        }
        let cancelled = try executor.submit(SleepJob(milliseconds: 30_000, value: 0))
        cancelled.cancel()
        #expect(cancelled.state == .cancelled)
        await executor.shutdown()
        #expect(throws: ExecutorError.self) { try executor.submit(FailingJob()) }
    }

    @Test("shutdown with cancelPending drops the queued jobs: cancelled, with the code shutDown")
    func shutdownCancelsPending() async throws {
        let executor = EventLoopExecutor(maxConcurrent: 1)
        let running = try executor.submit(SleepJob(milliseconds: 50, value: 1))
        let queued = try executor.submit(SleepJob(milliseconds: 50, value: 2))
        await executor.shutdown(wait: true, cancelPending: true)
        #expect(try await running.value == 1)
        #expect(queued.state == .cancelled)
        await #expect { try await queued.value } throws: { ($0 as? ExecutorError)?.code == .shutDown }
    }

    @Test("an executor on an existing loop leaves it running")
    func sharedLoop() async throws {
        let loop = AsyncLoop()
        let executor = EventLoopExecutor(loop: loop, maxConcurrent: 4)
        let loopThread = try await loop.run { _ in threadID() }
        #expect(try await executor.submit(ThreadJob()).value == loopThread)
        await executor.shutdown()
        #expect(try await loop.run { _ in 5 } == 5)
        await loop.shutdown()
    }

    @Test("toThread runs blocking work off the loop and resumes on it")
    func toThread() async throws {
        let (loopThread, workerThread, resumedThread, ticks) = try await AsyncLoop.run { loop in
            let ticker = loop.createTask {
                var ticks = 0
                for _ in 0..<5 {
                    try await loop.sleep(for: .milliseconds(5))
                    ticks += 1
                }
                return ticks
            }
            let worker = try await loop.toThread { () -> UInt in
                usleep(100_000)
                return threadID()
            }
            return (threadID(), worker, threadID(), try await ticker.value)
        }
        #expect(workerThread != loopThread)
        #expect(resumedThread == loopThread)
        #expect(ticks == 5)
    }

    @Test("runInExecutor runs a job on another executor and resumes on the loop")
    func runInExecutor() async throws {
        let other = InlineExecutor()
        let (value, resumed, loopThread) = try await AsyncLoop.run { loop in
            let value = try await loop.runInExecutor(SleepJob(milliseconds: 5, value: 11), on: other)
            return (value, threadID(), loop.isCurrentThread ? threadID() : 0)
        }
        #expect(value == 11)
        #expect(resumed == loopThread)
    }

    @Test("bounded map keeps at most N in flight, ordered and unordered")
    func boundedMap() async throws {
        try await AsyncLoop.run { loop in
            let inFlight = Mutex((now: 0, peak: 0))
            let squares = try await loop.map(0..<40, maxConcurrent: 4) { value in
                inFlight.withLock {
                    $0.now += 1
                    $0.peak = max($0.peak, $0.now)
                }
                try await loop.sleep(for: .milliseconds(1 + value % 3))
                inFlight.withLock { $0.now -= 1 }
                return value * value
            }
            #expect(squares == (0..<40).map { $0 * $0 })
            #expect(inFlight.withLock { $0.peak } == 4)
            // Each call finishes when its gate opens; the gates open in the order 5, 15, 30, each once the previous
            // outcome has been seen, so the completion order is known whatever the machine's speed.
            var seen: [Int] = []
            let gates = [5: AsyncEvent(), 15: AsyncEvent(), 30: AsyncEvent()]
            let outcomes = Tally()
            loop.createTask {
                for (step, delay) in [5, 15, 30].enumerated() {
                    await outcomes.wait(untilAtLeast: step)
                    gates[delay]!.set()
                }
            }
            for await completion in loop.mapUnordered([30, 5, 15], maxConcurrent: 3, { delay in
                try await gates[delay]!.wait()
                return delay
            }) {
                seen.append(try completion.result.get())
                outcomes.add()
            }
            #expect(seen == [5, 15, 30])
        }
    }

    @Test("the rate limiter spaces acquisitions after the burst")
    func rateLimiter() async throws {
        try await AsyncLoop.run { loop in
            let limiter = RateLimiter(rate: 100, burst: 5, loop: loop)
            let start = ContinuousClock.now
            var lastCall = start
            for _ in 0..<15 {
                lastCall = ContinuousClock.now
                try await limiter.acquire()
            }
            // 5 from the burst, then 10 more at 100 per second: at least about 100 ms.
            #expect(ContinuousClock.now - start >= .milliseconds(90))
            // The bucket is empty after the last acquisition and earns 5 tokens in 50 ms, so 5 more are refused
            // unless a slow machine took that long to get here.
            let refused = !limiter.tryAcquire(5)
            #expect(refused || ContinuousClock.now - lastCall >= .milliseconds(50))
        }
    }

    @Test("a cancelled rate-limiter wait gives its tokens back")
    func rateLimiterCancel() async throws {
        try await AsyncLoop.run { loop in
            let limiter = RateLimiter(rate: 1, burst: 1, loop: loop)
            try await limiter.acquire()
            let waiter = loop.createTask { try await limiter.acquire() }
            try await loop.sleep(for: .milliseconds(10))
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
        }
    }
}

@Suite("EventLoopExecutor shutdown without waiting")
struct ExecutorShutdownTests {
    @Test("shutdown(wait: false) returns at once and the running job still finishes")
    func shutdownWithoutWaiting() async throws {
        let executor = EventLoopExecutor(maxConcurrent: 2)
        let handle = try executor.submit(SleepJob(milliseconds: 50, value: 3))
        await executor.shutdown(wait: false, cancelPending: false)
        #expect(try await handle.value == 3)
        #expect(throws: ExecutorError.self) { try executor.submit(SleepJob(milliseconds: 1, value: 0)) }
    }
}

extension Array {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
