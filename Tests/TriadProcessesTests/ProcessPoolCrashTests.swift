import Glibc
import Synchronization
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport

extension ProcessPoolTests {
    @Suite("Process pool crashes, timeouts and cancellation", .serialized)
    struct ProcessPoolCrashTests {
        /// Runs a crashing job among good ones and returns the crashing job's error.
        private func crash(_ kind: Crash.Kind) async throws -> ExecutorError? {
            let pool = TestPools.pool()
            let before = try (0..<20).map { try pool.submit(Square($0)) }
            let crashing = try pool.submit(Crash(kind))
            let after = try (0..<20).map { try pool.submit(Square($0)) }
            let error = executorError(await crashing.result)
            for (index, handle) in (before + after).enumerated() {
                #expect(try await handle.value == (index % 20) * (index % 20))
            }
            #expect(try await pool.submit(Square(5)).value == 25)
            await pool.shutdown()
            return error
        }

        @Test("fatalError fails only its job, with the signal")
        func fatalErrorCrash() async throws {
            let error = try await crash(.fatalError)
            #expect(error?.code == .workerCrashed)
            #expect(error?.jobName == Crash.jobName)
            let exit = error?.underlying as? WorkerExit
            #expect(exit?.signal == SIGILL || exit?.signal == SIGTRAP)
        }

        @Test("a segmentation fault fails only its job, with SIGSEGV")
        func segfault() async throws {
            let error = try await crash(.segmentationFault)
            #expect(error?.code == .workerCrashed)
            #expect((error?.underlying as? WorkerExit)?.signal == SIGSEGV)
            #expect(error?.description.contains("SIGSEGV") == true)
        }

        @Test("exit(3) fails only its job, with status 3")
        func exitThree() async throws {
            let error = try await crash(.exit3)
            #expect(error?.code == .workerCrashed)
            #expect((error?.underlying as? WorkerExit)?.exitStatus == 3)
        }

        @Test("SIGKILL from outside fails only the running job")
        func outsideKill() async throws {
            let pool = TestPools.pool(workers: 1)
            let started = NapMarked.freshPath()
            defer { unlink(started) }
            let napping = try pool.submit(NapMarked(path: started, milliseconds: 60_000))
            let queued = try (0..<10).map { try pool.submit(Square($0)) }
            // Killed once the job runs in its worker, so the crash is the job's.
            #expect(await eventually(seconds: 60) { NapMarked.hasStarted(started) })
            kill(pool.workerPIDs[0], SIGKILL)
            let error = executorError(await napping.result)
            #expect(error?.code == .workerCrashed)
            #expect((error?.underlying as? WorkerExit)?.signal == SIGKILL)
            for (index, handle) in queued.enumerated() { #expect(try await handle.value == index * index) }
            await pool.shutdown()
        }

        @Test("with retries on, a job whose worker was killed runs again and succeeds")
        func retries() async throws {
            let pool = TestPools.pool(workers: 1) { $0.crashRetries = 2 }
            let started = NapMarked.freshPath()
            defer { unlink(started) }
            let napping = try pool.submit(NapMarked(path: started, milliseconds: 1_000))
            #expect(await eventually(seconds: 60) { NapMarked.hasStarted(started) })
            let first = pool.workerPIDs[0]
            kill(first, SIGKILL)
            let pid = try await napping.value
            #expect(pid != first)
            await pool.shutdown()
        }

        @Test("a runaway job with a 200 ms timeout fails with timedOut, and the pool still serves")
        func runaway() async throws {
            let pool = TestPools.pool()
            #expect(try await pool.submit(Square(2)).value == 4)
            // The job never ends on its own: only its timeout ends it.
            let result = await (try pool.submit(Runaway(), options: JobOptions(timeout: .milliseconds(200)))).result
            #expect(executorError(result)?.code == .timedOut)
            #expect(try await pool.submit(Square(3)).value == 9)
            await pool.shutdown()
        }

        @Test("the default timeout applies to jobs without their own")
        func defaultTimeout() async throws {
            let pool = TestPools.pool(workers: 1) { $0.defaultTimeout = .milliseconds(200) }
            #expect(executorError(await (try pool.submit(Nap(milliseconds: 5_000))).result)?.code == .timedOut)
            #expect(try await pool.submit(Square(4)).value == 16)
            await pool.shutdown()
        }

        @Test("cancelling a queued job removes it; cancelling a running one kills and replaces its worker")
        func cancel() async throws {
            let pool = TestPools.pool(workers: 1)
            let running = try pool.submit(Nap(milliseconds: 10_000))
            let queued = try pool.submit(Nap(milliseconds: 10_000))
            let later = try pool.submit(Square(6))
            #expect(await eventually(seconds: 120) { running.state == .running && !pool.workerPIDs.isEmpty })
            let pid = pool.workerPIDs[0]
            #expect(queued.cancel())
            #expect(running.cancel())
            #expect(running.state == .cancelled)
            #expect(try await later.value == 36)
            #expect(await eventually(seconds: 120) { TestPools.isDead(pid) })
            #expect(!running.cancel())
            await pool.shutdown()
        }

        @Test("cancelling the awaiting task cancels the job")
        func taskCancellation() async throws {
            let pool = TestPools.pool(workers: 1)
            let handle = try pool.submit(Nap(milliseconds: 10_000))
            let waiter = Task { await handle.result }
            #expect(await eventually(seconds: 120) { handle.state == .running })
            waiter.cancel()
            #expect(executorError(await waiter.value)?.code == .cancelled)
            #expect(try await pool.submit(Square(7)).value == 49)
            await pool.shutdown()
        }

        @Test("a worker over its memory limit fails its job with memoryLimitExceeded")
        func memoryLimit() async throws {
            let pool = TestPools.pool(workers: 1) { $0.memoryLimitPerWorker = 200 << 20 }
            #expect(try await pool.submit(Hog(megabytes: 10)).value == 10 << 20)
            let error = executorError(await (try pool.submit(Hog(megabytes: 400))).result)
            #expect(error?.code == .memoryLimitExceeded)
            #expect(try await pool.submit(Square(8)).value == 64)
            await pool.shutdown()
        }

        @Test("terminate and kill resolve every handle and reap every worker")
        func terminateAndKill() async throws {
            for useKill in [false, true] {
                let pool = TestPools.pool()
                let handles = try (0..<6).map { _ in try pool.submit(Nap(milliseconds: 10_000)) }
                #expect(await eventually(seconds: 120) { pool.workerPIDs.count == 2 })
                let pids = pool.workerPIDs
                if useKill { await pool.kill() } else { await pool.terminate() }
                for handle in handles { #expect(executorError(await handle.result)?.code == .cancelled) }
                #expect(pool.workerPIDs.isEmpty)
                for pid in pids { #expect(TestPools.isDead(pid)) }
                #expect(throws: ExecutorError.self) { try pool.submit(Square(1)) }
            }
        }

        @Test("kill storm: 10,000 jobs while a worker is SIGKILLed every 200 ms")
        func killStorm() async throws {
            for retries in [0, 50] {
                let pool = TestPools.pool { $0.crashRetries = retries }
                let stop = Atomic<Bool>(false)
                let killer = Task.detached {
                    while !stop.load(ordering: .relaxed) {
                        try? await Task.sleep(for: .milliseconds(200))
                        if let victim = pool.workerPIDs.randomElement() { kill(victim, SIGKILL) }
                    }
                }
                // Jobs long enough that the storm hits some of them.
                let handles = try (0..<10_000).map { index in
                    index % 100 == 0 ? try pool.submit(Square(index)) : try pool.submit(Square(index))
                }
                let naps = try (0..<40).map { _ in try pool.submit(Nap(milliseconds: 50)) }
                var succeeded = 0
                var crashed = 0
                for handle in handles {
                    switch await handle.result {
                    case .success: succeeded += 1
                    case .failure(let error): if (error as? ExecutorError)?.code == .workerCrashed { crashed += 1 }
                    }
                }
                for nap in naps {
                    switch await nap.result {
                    case .success: succeeded += 1
                    case .failure(let error): if (error as? ExecutorError)?.code == .workerCrashed { crashed += 1 }
                    }
                }
                stop.store(true, ordering: .relaxed)
                await killer.value
                #expect(succeeded + crashed == 10_040)
                if retries > 0 { #expect(succeeded == 10_040) }
                await pool.shutdown()
            }
        }
    }
}
