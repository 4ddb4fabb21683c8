import Glibc
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport

extension ProcessPoolTests {
    @Suite("Quick jobs in batches", .serialized)
    struct ProcessPoolBatchTests {
        /// A pool that batches jobs however slow the machine makes them look: the parent measures a job from its
        /// sending to its result, and on a loaded machine that can exceed the default bound for batching.
        private func batchingPool(_ change: (inout ProcessPoolConfiguration) -> Void = { _ in })
            -> ProcessPoolExecutor
        {
            TestPools.pool { configuration in
                configuration.batchQuickJobThreshold = .seconds(3600)
                change(&configuration)
            }
        }

        /// Submits `count` quick jobs with `odd` at index `at`, after a warm-up that teaches the pool the jobs are
        /// quick, and returns the handles.
        private func burst(
            _ pool: ProcessPoolExecutor,
            count: Int,
            odd: Burst,
            at oddIndex: Int
        ) async throws -> [JobHandle<Int>] {
            _ = try await pool.map((0..<500).map { Burst($0) }, options: MapOptions(chunkSize: 1))
            return try (0..<count).map { index in try pool.submit(index == oddIndex ? odd : Burst(index)) }
        }

        @Test("a burst of quick submissions travels in batches and every value comes back to its own handle")
        func batchesDeliverInOrder() async throws {
            let pool = batchingPool()
            let handles = try await burst(pool, count: 20_000, odd: Burst(7), at: 7)
            for (index, handle) in handles.enumerated() { #expect(try await handle.value == index * 2) }
            #expect(pool.batchesSent > 0)
            await pool.shutdown()
        }

        @Test("a crash inside a batch fails only the job that crashed; the rest of its batch runs again")
        func crashInBatch() async throws {
            let pool = batchingPool()
            let handles = try await burst(pool, count: 6_000, odd: Burst(0, .crash), at: 3_000)
            for (index, handle) in handles.enumerated() {
                let result = await handle.result
                if index == 3_000 {
                    let error = executorError(result)
                    #expect(error?.code == .workerCrashed)
                    #expect((error?.underlying as? WorkerExit)?.signal == SIGKILL)
                } else {
                    #expect(try result.get() == index * 2)
                }
            }
            #expect(pool.batchesSent > 0)
            #expect(try await pool.submit(Burst(21)).value == 42)
            await pool.shutdown()
        }

        @Test("a job that fails to decode inside a batch fails alone with codingFailed")
        func undecodableInBatch() async throws {
            let pool = batchingPool()
            _ = try await pool.map((0..<500).map(FastSquare.init), options: MapOptions(chunkSize: 1))
            let handles = try (0..<6_000).map { index in try pool.submit(FastSquare(index == 4_000 ? -1 : index)) }
            for (index, handle) in handles.enumerated() {
                let result = await handle.result
                if index == 4_000 {
                    #expect(executorError(result)?.code == .codingFailed)
                } else {
                    #expect(try result.get() == index * index)
                }
            }
            #expect(pool.batchesSent > 0)
            await pool.shutdown()
        }

        @Test("cancelling a long job that travels among quick ones kills its worker; the others still finish")
        func cancelInBatch() async throws {
            let pool = batchingPool()
            let handles = try await burst(pool, count: 4_000, odd: Burst(0, .sleep, milliseconds: 3_600_000), at: 2_000)
            let long = handles[2_000]
            // Cancelled at once, running or not: a job cancelled before it starts kills its worker as it starts.
            let start = ContinuousClock.now
            #expect(long.cancel())
            for (index, handle) in handles.enumerated() where index != 2_000 {
                #expect(try await handle.value == index * 2)
            }
            // Had the worker not been killed, the jobs behind the long one would wait for its hour.
            #expect(ContinuousClock.now - start < .seconds(600))
            #expect(executorError(await long.result)?.code == .cancelled)
            await pool.shutdown()
        }

        @Test("a quick job's result does not wait for a long job of another kind sent after it")
        func resultsNotHeldByLongJob() async throws {
            let pool = TestPools.pool(workers: 1)
            _ = try await pool.submit(Square(2)).value
            // While the first nap runs, the square and the long nap queue up; its result sends both at once.
            let first = try pool.submit(Nap(milliseconds: 300))
            let quick = try pool.submit(Square(3))
            let slow = try pool.submit(Nap(milliseconds: 60_000))
            _ = try await first.value
            #expect(try await quick.value == 9)
            // Held back, the square's result would come after the minute-long nap.
            #expect(!slow.isFinished)
            slow.cancel()
            await pool.shutdown()
        }

        @Test("jobs submitted while every worker is busy wait their turn, and a shutdown resolves every one of them")
        func submittedWhileBusy() async throws {
            let pool = TestPools.pool()
            // Both workers up and idle first, so each nap goes to a worker of its own.
            _ = try await pool.map((0..<100).map(Square.init), options: MapOptions(chunkSize: 1))
            let naps = try (0..<2).map { _ in try pool.submit(Nap(milliseconds: 300)) }
            #expect(await eventually(seconds: 120) { naps.allSatisfy { $0.state == .running } })
            let waiting = try (0..<500).map { try pool.submit(Square($0)) }
            for (index, handle) in waiting.enumerated() { #expect(try await handle.value == index * index) }

            let more = try (0..<2).map { _ in try pool.submit(Nap(milliseconds: 300)) }
            #expect(await eventually(seconds: 120) { more.allSatisfy { $0.state == .running } })
            let pending = try (0..<500).map { try pool.submit(Square($0)) }
            await pool.shutdown(wait: true, cancelPending: true)
            for handle in more {
                let result = await handle.result
                #expect((try? result.get()) != nil || executorError(result)?.code == .cancelled)
            }
            for handle in pending {
                let result = await handle.result
                #expect((try? result.get()) != nil || executorError(result)?.code == .shutDown)
            }
            #expect(throws: ExecutorError.self) { try pool.submit(Square(1)) }
        }

        @Test("with a default timeout, or with batches turned off, jobs travel one by one")
        func noBatches() async throws {
            let timed = batchingPool { $0.defaultTimeout = .seconds(30) }
            let unbatched = batchingPool { $0.batchesQuickJobs = false }
            for pool in [timed, unbatched] {
                let handles = try await burst(pool, count: 3_000, odd: Burst(3), at: 3)
                for (index, handle) in handles.enumerated() { #expect(try await handle.value == index * 2) }
                #expect(pool.batchesSent == 0)
                await pool.shutdown()
            }
        }
    }
}
