import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport
import TriadThreads

/// Runs `body` on an OS thread of its own (it blocks in `JobHandle.wait()`) and returns its value.
private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let thread = TriadThreads.Thread(name: "blocking-waiter", body)
    try thread.start()
    return try await thread.join()
}

/// Submits `job` and blocks on its handle on a thread of its own; returns the code of the `ExecutorError` it ends
/// with, or nil if it succeeds or fails otherwise.
private func blockingErrorCode<J: Job>(_ pool: ProcessPoolExecutor, _ job: J) async throws -> ExecutorError.Code? {
    try await onThread { () -> ExecutorError.Code? in
        do {
            _ = try pool.submit(job).wait()
            return nil
        } catch {
            return (error as? ExecutorError)?.code
        }
    }
}

extension ProcessPoolTests {
    /// A thread that blocks on a pool job's handle reads the workers' results itself while it spins (the handle's
    /// wait assist), so these tests drive that path: several such threads at once, beside awaiting tasks, and
    /// through a crash.
    @Suite("Blocking waits on a process pool's jobs", .serialized)
    struct BlockingWaitTests {
        @Test("threads that block on their jobs' handles get their own results, many at once, beside awaiting tasks")
        func manyWaiters() async throws {
            let pool = TestPools.pool(workers: 2)
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for waiter in 0..<4 {
                    group.addTask {
                        try await onThread { () throws -> Bool in
                            for index in 0..<300 {
                                let value = waiter * 1000 + index
                                guard try pool.submit(Square(value)).wait() == value * value else { return false }
                            }
                            return true
                        }
                    }
                }
                group.addTask {
                    for index in 0..<300 {
                        guard try await pool.submit(Square(index)).value == index * index else { return false }
                    }
                    return true
                }
                for try await allRight in group { #expect(allRight) }
            }
            await pool.shutdown()
        }

        @Test("a blocking wait ends with the job's crash, and the pool's next blocking wait works")
        func crashWhileBlocked() async throws {
            let pool = TestPools.pool(workers: 1)
            #expect(try await blockingErrorCode(pool, Crash(.segmentationFault)) == .workerCrashed)
            #expect(try await onThread { try pool.submit(Square(12)).wait() } == 144)
            await pool.shutdown()
        }

        @Test("a worker left idle by results that blocking waiters read still leaves after the idle timeout")
        func idleAfterAssistedResults() async throws {
            let pool = TestPools.pool(workers: 1) { $0.idleTimeout = .milliseconds(200) }
            let allRight = try await onThread { () throws -> Bool in
                for index in 0..<50 {
                    guard try pool.submit(Square(index)).wait() == index * index else { return false }
                }
                return true
            }
            #expect(allRight)
            #expect(await eventually(seconds: 120) { pool.workerPIDs.isEmpty })
            // A new worker starts for the next job.
            #expect(try await onThread { try pool.submit(Square(4)).wait() } == 16)
            await pool.shutdown()
        }

        @Test("a job's time limit is watched when the job before it was answered to a blocking waiter")
        func timeoutBehindAssistedJob() async throws {
            let pool = TestPools.pool(workers: 1)
            for index in 0..<20 { _ = try await pool.submit(Square(index)).value }
            let quick = try pool.submit(Square(3))
            // A minute long, with a limit of a fifth of a second: if no one watched the limit, the job would run
            // its minute and come back with a pid instead of timedOut.
            let long = try pool.submit(Nap(milliseconds: 60_000), options: JobOptions(timeout: .milliseconds(200)))
            #expect(try await onThread { try quick.wait() } == 9)
            #expect(executorError(await long.result)?.code == .timedOut)
            await pool.shutdown()
        }

        @Test("garbage read by a blocking waiter ends the worker with protocolViolation, as the driver would")
        func garbageSeenByWaiter() async throws {
            let pool = TestPools.pool(workers: 1)
            #expect(try await blockingErrorCode(pool, Sabotage(.garbage)) == .protocolViolation)
            #expect(try await onThread { try pool.submit(Square(5)).wait() } == 25)
            await pool.shutdown()
        }

        @Test("a blocking wait on a job longer than the assist's spin parks, and still gets its result")
        func longJob() async throws {
            let pool = TestPools.pool(workers: 1)
            // 20 ms is a hundred times the assist's spin: the result comes through the driver, which the end of the
            // assist hands the ring back to.
            let pid = try await onThread { try pool.submit(Nap(milliseconds: 20)).wait() }
            #expect(pool.workerPIDs.contains(pid))
            await pool.shutdown()
        }
    }
}
