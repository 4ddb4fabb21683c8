import Testing
import TriadCore
import TriadThreads

private struct Square: Job {
    var n: Int
    func run() async throws -> Int { n * n }
}

private struct WhereAmI: Job {
    /// The native ids of the threads the job ran on, before and after suspending.
    func run() async throws -> [Int32] {
        let before = Threading.currentNativeID
        await Task.yield()
        try await Task.sleep(for: .milliseconds(1))
        return [before, Threading.currentNativeID]
    }
}

private struct Fails: Job {
    func run() async throws -> Int { throw TestFailure(reason: "job") }
}

private struct Sleeps: Job {
    var milliseconds: Int
    func run() async throws -> Bool {
        try await Task.sleep(for: .milliseconds(milliseconds))
        return true
    }
}

private func executorCode<T>(_ result: Result<T, any Error>) -> ExecutorError.Code? {
    if case .failure(let error as ExecutorError) = result { return error.code }
    return nil
}

@Suite("ThreadPoolExecutor")
struct ThreadPoolExecutorTests {
    @Test("a submitted job's value comes back through its handle")
    func submitJob() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        #expect(pool.workerCount == 2)
        let handle = try pool.submit(Square(n: 12))
        #expect(try await handle.value == 144)
        #expect(handle.state == .succeeded)
        await pool.shutdown()
    }

    @Test("a job's code runs on the pool's own threads, not on the cooperative pool, also after it suspends")
    func runsOnPoolThreads() async throws {
        let pool = ThreadPoolExecutor(workers: 2, name: "where")
        let callers = Threading.currentNativeID
        var seen: Set<Int32> = []
        for _ in 0..<8 { seen.formUnion(try await pool.submit(WhereAmI()).value) }
        let workers = Set(pool.workerNativeIDs)
        #expect(workers.count == 2)
        #expect(seen.isSubset(of: workers))
        #expect(!seen.contains(callers))
        let preferred = await Task(executorPreference: pool) { Threading.currentNativeID }.value
        #expect(workers.contains(preferred))
        let closure = try await pool.submit { Threading.currentNativeID }.value
        #expect(workers.contains(closure))
        await pool.shutdown()
    }

    @Test("a job's error comes back through its handle")
    func failingJob() async throws {
        let pool = ThreadPoolExecutor(workers: 1)
        let handle = try pool.submit(Fails())
        await #expect(throws: TestFailure(reason: "job")) { try await handle.value }
        #expect(handle.state == .failed)
        let closure = try pool.submit { () throws -> Int in throw TestFailure(reason: "closure") }
        await #expect(throws: TestFailure(reason: "closure")) { try await closure.value }
        await pool.shutdown()
    }

    @Test("map returns values in order")
    func map() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        let squares = try await pool.map((1...50).map { Square(n: $0) })
        #expect(squares == (1...50).map { $0 * $0 })
        await pool.shutdown()
    }

    @Test("mapUnordered yields every outcome once, and map reports progress")
    func mapUnordered() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        var seen: [Int: Int] = [:]
        for await completion in pool.mapUnordered((0..<30).map { Square(n: $0) }) {
            seen[completion.index] = try completion.result.get()
        }
        #expect(seen.count == 30)
        #expect(seen.allSatisfy { $0.value == $0.key * $0.key })
        let reports = Recorder<Int>()
        let values = try await pool.map(
            (0..<10).map { Square(n: $0) },
            options: MapOptions(maxInFlight: 3, progress: { reports.append($0.completed) })
        )
        #expect(values.count == 10)
        #expect(reports.all.sorted() == Array(1...10))
        await pool.shutdown()
    }

    @Test("the initializer runs once on each worker thread")
    func initializer() async throws {
        let calls = Recorder<Int>()
        let threads = Recorder<Int32>()
        let pool = ThreadPoolExecutor(workers: 3) { index in
            calls.append(index)
            threads.append(Threading.currentNativeID)
        }
        _ = try await pool.submit(Square(n: 1)).value
        await pool.shutdown()
        #expect(calls.all.sorted() == [0, 1, 2])
        #expect(Set(threads.all).count == 3)
    }

    @Test("a cancelling shutdown resolves the pending jobs with cancelled and lets the running one finish")
    func cancellingShutdown() async throws {
        let pool = ThreadPoolExecutor(workers: 1)
        let started = Event()
        let gate = Event()
        let running = try pool.submit { () -> String in
            started.set()
            gate.wait()
            return "finished"
        }
        try await started.wait(timeout: .seconds(600))
        let pending = try (1...5).map { try pool.submit(Square(n: $0)) }
        let pendingClosure = try pool.submit { 1 }
        #expect(pending.allSatisfy { $0.state == .pending })
        await pool.shutdown(wait: false, cancelPending: true)
        // Dropped: cancelled, and told apart from a cancelled handle by the code.
        for handle in pending {
            #expect(executorCode(await handle.result) == .shutDown)
            #expect(handle.state == .cancelled)
        }
        #expect(executorCode(await pendingClosure.result) == .shutDown)
        #expect(!pool.isAcceptingJobs)
        gate.set()
        #expect(try await running.value == "finished")
        await pool.shutdown(wait: true, cancelPending: false)
        #expect(pool.workerNativeIDs.isEmpty)
    }

    @Test("a graceful shutdown runs every queued job")
    func gracefulShutdown() async throws {
        let pool = ThreadPoolExecutor(workers: 1)
        let handles = try (1...20).map { try pool.submit(Square(n: $0)) }
        await pool.shutdown(wait: true, cancelPending: false)
        for (index, handle) in handles.enumerated() { #expect(try await handle.value == (index + 1) * (index + 1)) }
    }

    @Test("submitting after shutdown throws shutDown")
    func submitAfterShutdown() async throws {
        let pool = ThreadPoolExecutor(workers: 1)
        await pool.shutdown()
        #expect(throws: ExecutorError.self) { try pool.submit(Square(n: 2)) }
        do {
            _ = try pool.submit { 1 }
            Issue.record("a shut-down pool took a job")
        } catch {
            #expect(error.code == .shutDown)
        }
        await pool.shutdown()
    }

    @Test("a job past its timeout resolves with timedOut and its task is cancelled")
    func jobTimeout() async throws {
        let pool = ThreadPoolExecutor(workers: 1)
        let handle = try pool.submit(Sleeps(milliseconds: 60_000), options: JobOptions(timeout: .milliseconds(50)))
        #expect(executorCode(await handle.result) == .timedOut)
        #expect(handle.state == .failed)
        // The closure ends only after its handle has timed out, so the timeout wins whatever the machine's speed.
        let timedOut = Event()
        let closure = try pool.submit(timeout: .milliseconds(20)) { () -> Int in
            timedOut.wait()
            return 1
        }
        #expect(executorCode(await closure.result) == .timedOut)
        timedOut.set()
        let quick = try pool.submit(Sleeps(milliseconds: 1), options: JobOptions(timeout: .seconds(600)))
        #expect(try await quick.value)
        // The cancelled sleep ends at once, so shutdown does not wait a minute.
        await pool.shutdown()
    }

    @Test("the pool's default timeout applies to jobs that set none")
    func defaultTimeout() async throws {
        let pool = ThreadPoolExecutor(workers: 1, defaultTimeout: .milliseconds(50))
        #expect(pool.defaultTimeout == .milliseconds(50))
        let handle = try pool.submit(Sleeps(milliseconds: 60_000))
        #expect(executorCode(await handle.result) == .timedOut)
        await pool.shutdown()
    }

    @Test("cancelling a running job's handle cancels its task")
    func cancelRunning() async throws {
        let pool = ThreadPoolExecutor(workers: 1)
        let started = Event()
        let stopped = Event()
        let handle = try pool.submit { () async -> Int in
            started.set()
            while !Task.isCancelled { await Task.yield() }
            stopped.set()
            return 0
        }
        try await started.wait(timeout: .seconds(600))
        #expect(handle.state == .running)
        #expect(handle.cancel())
        #expect(handle.state == .cancelled)
        try await stopped.wait(timeout: .seconds(600))
        await pool.shutdown()
    }

    @Test("an OS thread can block on a handle with wait, with a timeout")
    func blockingWait() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        let gate = Event()
        let values = try await onThread { () -> [Int] in
            let quick = try pool.submit(Square(n: 9))
            let slow = try pool.submit { () -> Int in
                gate.wait()
                return 5
            }
            var values = [try quick.wait()]
            do {
                values.append(try slow.wait(timeout: .milliseconds(50)))
            } catch let error as ThreadingError {
                #expect(error.code == .timedOut)
            }
            gate.set()
            values.append(try slow.wait(timeout: .seconds(600)))
            return values
        }
        #expect(values == [81, 5])
        await pool.shutdown()
    }

    @Test("jobs run in parallel on every worker")
    func parallel() async throws {
        let pool = ThreadPoolExecutor(workers: 2)
        let barrier = Barrier(parties: 2, timeout: .seconds(600))
        let handles = try (0..<2).map { _ in try pool.submit { try barrier.wait() } }
        for handle in handles { _ = try await handle.value }
        await pool.shutdown()
    }

    @Test("shutdownBlocking, called from an OS thread, waits for the queued jobs and the workers")
    func blockingShutdown() async throws {
        let pool = ThreadPoolExecutor(workers: 2, name: "blocking")
        #expect(pool.name == "blocking")
        let handles = try (1...10).map { n in try pool.submit { () -> Int in
            sleepOnThread(.milliseconds(2))
            return n
        } }
        try await onThread { pool.shutdownBlocking() }
        #expect(pool.workerNativeIDs.isEmpty)
        #expect(handles.allSatisfy { $0.state == .succeeded })
        try await onThread { pool.shutdownBlocking(cancelPending: true) }
    }

    @Test("after every worker has exited, tasks that prefer the pool still run, on the global executor")
    func afterShutdownFallback() async throws {
        let pool = ThreadPoolExecutor(workers: 1)
        await pool.shutdown()
        let value = await Task(executorPreference: pool) { 42 }.value
        #expect(value == 42)
    }

    @Test("a pool made without a worker count has one worker per CPU")
    func defaultWorkers() async throws {
        let pool = ThreadPoolExecutor()
        #expect(pool.workerCount >= 1)
        #expect(try await pool.submit(Square(n: 3)).value == 9)
        await pool.shutdown()
    }
}
