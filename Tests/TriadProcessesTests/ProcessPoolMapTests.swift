import Glibc
import Synchronization
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport

extension ProcessPoolTests {
    /// A map's jobs are each on their own inside a chunk: a crash, a timeout and progress concern one job.
    @Suite("Process pool maps, job by job", .serialized)
    struct ProcessPoolMapTests {
        /// Every outcome of `mapUnordered`, by index.
        private func outcomes<J: Job>(
            _ pool: ProcessPoolExecutor,
            _ jobs: [J],
            options: MapOptions
        ) async -> [Int: Result<J.Output, any Error>] {
            var outcomes: [Int: Result<J.Output, any Error>] = [:]
            for await completion in pool.mapUnordered(jobs, options: options) {
                outcomes[completion.index] = completion.result
            }
            return outcomes
        }

        @Test("a crash inside a chunk fails only the job that crashed; the rest of its chunk runs again")
        func crashInChunk() async throws {
            let pool = TestPools.pool()
            let jobs = (0..<200).map { $0 == 77 ? Burst($0, .crash) : Burst($0) }
            let outcomes = await outcomes(pool, jobs, options: MapOptions(chunkSize: 25))
            #expect(outcomes.count == 200)
            for (index, outcome) in outcomes {
                if index == 77 {
                    let error = executorError(outcome)
                    #expect(error?.code == .workerCrashed)
                    #expect((error?.underlying as? WorkerExit)?.signal == SIGKILL)
                } else {
                    #expect(try outcome.get() == index * 2, "job \(index)")
                }
            }
            // The ordered map fails with that job's error, not another's.
            let error = await #expect(throws: ExecutorError.self) {
                try await pool.map(jobs, options: MapOptions(chunkSize: 25))
            }
            #expect(error?.code == .workerCrashed)
            await pool.shutdown()
        }

        @Test("crash retries count per job: a large map completes while its workers are killed over and over")
        func retriesPerJob() async throws {
            let pool = TestPools.pool { $0.crashRetries = 3 }
            let kills = Atomic<Int>(0)
            let stop = Atomic<Bool>(false)
            let jobs = (0..<600).map { Burst($0, .sleep, milliseconds: 4) }
            let killer = Task.detached {
                while !stop.load(ordering: .relaxed) {
                    try? await Task.sleep(for: .milliseconds(50))
                    if let victim = pool.workerPIDs.randomElement(), kill(victim, SIGKILL) == 0 {
                        kills.add(1, ordering: .relaxed)
                    }
                }
            }
            let values = try await pool.map(jobs, options: MapOptions(chunkSize: 100))
            stop.store(true, ordering: .relaxed)
            await killer.value
            #expect(values == (0..<600).map { $0 * 2 })
            #expect(kills.load(ordering: .relaxed) > 6, "the storm must outnumber the retries of one chunk")
            await pool.shutdown()
        }

        @Test("a map's timeout is each job's: a job that hangs fails alone at its own limit")
        func timeoutPerJob() async throws {
            let pool = TestPools.pool(workers: 1)
            // Ten 50 ms jobs in one chunk take 500 ms together, more than the timeout, and still all finish.
            let jobs = (0..<10).map { $0 == 6 ? Burst($0, .sleep, milliseconds: 60_000) : Burst($0, .sleep, milliseconds: 50) }
            let outcomes = await outcomes(pool, jobs, options: MapOptions(chunkSize: 10, timeout: .milliseconds(1_000)))
            #expect(outcomes.count == 10)
            for (index, outcome) in outcomes {
                if index == 6 {
                    #expect(executorError(outcome)?.code == .timedOut)
                } else {
                    #expect(try outcome.get() == index * 2, "job \(index)")
                }
            }
            #expect(try await pool.submit(Square(3)).value == 9)
            await pool.shutdown()
        }

        @Test("progress is reported after each job, once per job, on both maps")
        func progressPerJob() async throws {
            let pool = TestPools.pool()
            for ordered in [true, false] {
                let reports = Mutex<[Int]>([])
                let options = MapOptions(chunkSize: 25) { progress in
                    #expect(progress.total == 200)
                    reports.withLock { $0.append(progress.completed) }
                }
                let jobs = (0..<200).map { Burst($0) }
                if ordered {
                    _ = try await pool.map(jobs, options: options)
                } else {
                    for await _ in pool.mapUnordered(jobs, options: options) {}
                }
                let seen = reports.withLock { $0 }
                #expect(seen.count == 200)
                #expect(Set(seen) == Set(1...200))
            }
            await pool.shutdown()
        }

        @Test("a timeout of .seconds(.max) means no limit, for a job, a map and the pool's default")
        func endlessTimeouts() async throws {
            let pool = TestPools.pool { $0.defaultTimeout = .seconds(Int64.max) }
            let endless = Duration.seconds(Int64.max)
            #expect(try await pool.submit(Square(4), options: JobOptions(timeout: endless)).value == 16)
            let values = try await pool.map((0..<100).map(Square.init), options: MapOptions(chunkSize: 30, timeout: endless))
            #expect(values == (0..<100).map { $0 * $0 })
            #expect(try await pool.submit(Nap(milliseconds: 20)).value > 0)
            await pool.shutdown()
        }
    }
}
