import CTriadShims
import Glibc
import Synchronization
import Testing
import TriadCore
import TriadProcessesTestSupport
import TriadTestSupport

@testable import TriadProcesses

@Suite("When a task awaiting a pool's job reads the results itself first")
struct AwaitAssistPolicyTests {
    @Test("every assist is admitted while they bring results")
    func admitsWhileHitting() {
        var policy = AwaitAssistPolicy()
        for _ in 0..<100 {
            let admitted = policy.admits()
            #expect(admitted)
            policy.record(broughtOutcome: true)
        }
        #expect(policy.misses == 0 && policy.skipped == 0)
    }

    @Test("misses short of the limit keep admitting, and a hit forgets them")
    func missesBelowLimit() {
        var policy = AwaitAssistPolicy()
        var admitted: [Bool] = []
        for _ in 1..<AwaitAssistPolicy.missesBeforeBackingOff {
            admitted.append(policy.admits())
            policy.record(broughtOutcome: false)
        }
        admitted.append(policy.admits())
        policy.record(broughtOutcome: true)
        #expect(policy.misses == 0)
        admitted.append(policy.admits())
        #expect(admitted.allSatisfy { $0 })
    }

    @Test("after four misses in a row, one await in 32 assists, and its hit admits them all again")
    func backsOffAndProbes() {
        var policy = AwaitAssistPolicy()
        for _ in 0..<AwaitAssistPolicy.missesBeforeBackingOff {
            let admitted = policy.admits()
            #expect(admitted)
            policy.record(broughtOutcome: false)
        }
        for round in 0..<3 {
            let admitted = (0..<AwaitAssistPolicy.probeInterval).map { _ in policy.admits() }
            #expect(admitted == Array(repeating: false, count: AwaitAssistPolicy.probeInterval - 1) + [true])
            if round < 2 {
                // The probe misses too: the policy stays backed off.
                policy.record(broughtOutcome: false)
                #expect(policy.misses == AwaitAssistPolicy.missesBeforeBackingOff)
            } else {
                policy.record(broughtOutcome: true)
            }
        }
        #expect(policy.misses == 0 && policy.skipped == 0)
        let afterHit = (0..<10).map { _ in policy.admits() }
        #expect(afterHit.allSatisfy { $0 })
    }
}

extension ProcessPoolTests {
    /// A task about to suspend for a pool job's handle reads the workers' results first, for the idle strategy's
    /// `awaitAssist` (see `PoolStorage.assistAwaiter(until:)`). These tests drive a job that outlasts it, the
    /// pool's backing off, a cancelled task, and jobs under each strategy, by the events of the pool's record of
    /// its assists.
    @Suite("Awaiting a pool's job", .serialized)
    struct ProcessPoolAwaitAssistTests {
        /// The pool's record of its awaiting tasks' assists.
        private static func record(_ pool: ProcessPoolExecutor) -> AwaitAssistPolicy {
            pool.storage.awaitAssistPolicy.withLock { $0 }
        }

        /// Assists that ended without their job's outcome, or read nothing because drivers were reading: each
        /// admitted assist of a job that outlasts it adds one.
        private static func ended(_ pool: ProcessPoolExecutor) -> Int {
            let record = record(pool)
            return record.misses + record.busy
        }

        /// Drivers that park at once, so that they seldom hold the results' lock when a task comes to assist, and a
        /// short assist.
        private static let parkedDrivers = IdleStrategy(spin: .zero, yield: .zero, awaitAssist: .microseconds(200))

        /// Drivers that park at once, and awaiting tasks that read results for up to two seconds: every result that
        /// a task awaits comes to it through its own assist.
        private static let tasksRead = IdleStrategy(spin: .zero, yield: .zero, awaitAssist: .seconds(2))

        /// A pool of one worker with `strategy`, once its worker has started: a task assists only the workers that
        /// have.
        private static func warmPool(_ strategy: IdleStrategy) async throws -> ProcessPoolExecutor {
            let pool = TestPools.pool(workers: 1) { $0.idleStrategy = strategy }
            #expect(try await pool.submit(Square(2)).value == 4)
            return pool
        }

        /// Submits a job that runs until the test opens its gate, has a task await it, and opens the gate once the
        /// task's assist has ended (or the pool, backed off, skipped it); returns the job's value.
        private static func gatedRound(_ pool: ProcessPoolExecutor, expectSkip: Bool = false) async throws -> Int32 {
            let gate = NapMarked.freshPath()
            defer { unlink(gate) }
            let before = record(pool)
            let handle = try pool.submit(AwaitFile(path: gate))
            let waiter = Task { try await handle.value }
            if expectSkip {
                #expect(await eventually(seconds: 120) { record(pool).skipped == before.skipped + 1 })
            } else {
                #expect(await eventually(seconds: 120) { ended(pool) == before.misses + before.busy + 1 })
            }
            #expect(handle.state != .succeeded)
            AwaitFile.open(gate)
            return try await waiter.value
        }

        @Test("a job that outlasts the assist is a miss, and its task suspends and still gets its value; after four the pool backs off")
        func missesThenBackOff() async throws {
            let pool = try await Self.warmPool(Self.parkedDrivers)
            let hitsBefore = Self.record(pool).hits
            // A round whose drivers happened to be reading counts as busy, not as a miss: go on until four misses.
            var rounds = 0
            while Self.record(pool).misses < AwaitAssistPolicy.missesBeforeBackingOff, rounds < 100 {
                #expect(try await Self.gatedRound(pool) > 0)
                rounds += 1
            }
            #expect(Self.record(pool).misses == AwaitAssistPolicy.missesBeforeBackingOff)
            #expect(Self.record(pool).hits == hitsBefore)
            // Backed off: the next task suspends at once, and only counts itself among the skipped.
            #expect(try await Self.gatedRound(pool, expectSkip: true) > 0)
            #expect(Self.record(pool).misses == AwaitAssistPolicy.missesBeforeBackingOff)
            await pool.shutdown()
        }

        @Test("short jobs awaited in turn come back under every strategy, through the task's own assist where drivers park", arguments: [
            IdleStrategy.balanced, .lowLatency, .lowCPU, IdleStrategy(spin: .zero, yield: .zero, awaitAssist: .seconds(2)),
        ])
        func shortJobs(strategy: IdleStrategy) async throws {
            let pool = TestPools.pool(workers: 2) { $0.idleStrategy = strategy }
            for value in 0..<300 { #expect(try await pool.submit(Square(value)).value == value * value) }
            let outcomes = try await pool.submit(Throw(registered: true)).result
            #expect((try? outcomes.get()) == nil)
            let record = Self.record(pool)
            if strategy == .lowCPU {
                #expect(record.hits == 0 && record.misses == 0 && record.busy == 0, "lowCPU never assists")
            }
            if strategy == Self.tasksRead {
                // No await outlasts two seconds of assisting, and with the drivers parked the tasks read results.
                #expect(record.misses == 0)
                #expect(record.hits > 0)
            }
            await pool.shutdown()
        }

        @Test("an assist reads only the workers with work in flight: with four, a gated job marks one, and its task still reads its result")
        func onlyBusyWorkers() async throws {
            let pool = TestPools.pool(workers: 4) { $0.idleStrategy = Self.tasksRead }
            // Until all four have started, a job may wait for one; then every worker has run one and is idle.
            let warm = try (0..<40).map { try pool.submit(Square($0)) }
            for (index, handle) in warm.enumerated() { #expect(try await handle.value == index * index) }
            #expect(await eventually(seconds: 120) { pool.workerPIDs.count == 4 })
            #expect(await eventually(seconds: 120) { pool.storage.workersWithWorkInFlight().isEmpty })
            let gate = NapMarked.freshPath()
            defer { unlink(gate) }
            let held = try pool.submit(AwaitFile(path: gate))
            // The state that sent the job marked its worker, before `submit` returned.
            #expect(pool.storage.workersWithWorkInFlight().count == 1)
            let before = Self.record(pool)
            for value in 0..<200 { #expect(try await pool.submit(Square(value)).value == value * value) }
            let after = Self.record(pool)
            // Each short job's task read its own result on one of the three idle workers: none outlasted two
            // seconds of looking, so none was a miss.
            #expect(after.misses == before.misses)
            #expect(after.hits > before.hits)
            #expect(pool.storage.workersWithWorkInFlight().count == 1)
            AwaitFile.open(gate)
            #expect(try await held.value > 0)
            #expect(await eventually(seconds: 120) { pool.storage.workersWithWorkInFlight().isEmpty })
            await pool.shutdown()
        }

        @Test(
            "a thread that blocks on a job yields rather than pauses while the worker runs on its CPU",
            .enabled(if: twoAllowedCPUs() != nil, "the worker on another CPU needs two")
        )
        func blockingWaiterOnWorkersCPU() async throws {
            let (first, second) = try #require(twoAllowedCPUs())
            let pool = try await Self.warmPool(.balanced)
            let pid = try #require(pool.workerPIDs.first)
            // Every thread of the worker on one CPU, then a job through it, so that it waits for the next there.
            for tid in ProcFS.numberedEntries(of: "/proc/\(pid)/task") { #expect(triad_thread_pin(tid, first) == 0) }
            #expect(try await pool.submit(Square(3)).value == 9)
            let gate = NapMarked.freshPath()
            defer { unlink(gate) }
            let held = try pool.submit(AwaitFile(path: gate))
            #expect(await eventually(seconds: 120) { pool.storage.workersWithWorkInFlight().count == 1 })
            /// Whether a waiting thread kept on `cpu` would pause between its first looks.
            func pauses(on cpu: Int32) async throws -> Bool? {
                try await withCheckedThrowingContinuation { continuation in
                    DedicatedThread.start(name: "pinned-waiter") {
                        guard triad_thread_pin(0, cpu) == 0, let session = pool.storage.assistWaiter() else {
                            return continuation.resume(returning: nil)
                        }
                        session.end()
                        continuation.resume(returning: session.pauses)
                    }
                }
            }
            #expect(try await pauses(on: first) == false)
            #expect(try await pauses(on: second) == true)
            AwaitFile.open(gate)
            #expect(try await held.value == pid)
            await pool.shutdown()
        }

        @Test("results that an awaiting task's assist leaves behind still arrive, with no other task awaiting them")
        func resultsLeftBehindArrive() async throws {
            let pool = try await Self.warmPool(Self.tasksRead)
            // Thousands of results, far more than one look reads: the first job's task takes its own and goes, and
            // the driver must deliver the rest, whether they are still in the ring or in the reader's buffer.
            let handles = try (0..<3000).map { try pool.submit(Square($0)) }
            #expect(try await handles[0].value == 0)
            #expect(await eventually(seconds: 120) { handles.allSatisfy(\.isFinished) })
            for (index, handle) in handles.enumerated() { #expect(try await handle.value == index * index) }
            await pool.shutdown()
        }

        @Test("a worker left idle by results that awaiting tasks read still leaves after the idle timeout")
        func idleAfterAssistedResults() async throws {
            let pool = TestPools.pool(workers: 1) {
                $0.idleStrategy = Self.tasksRead
                $0.idleTimeout = .milliseconds(200)
            }
            for index in 0..<50 { #expect(try await pool.submit(Square(index)).value == index * index) }
            #expect(await eventually(seconds: 120) { pool.workerPIDs.isEmpty })
            #expect(try await pool.submit(Square(4)).value == 16)
            await pool.shutdown()
        }

        @Test("a job's time limit is watched when the job before it was answered to an awaiting task's assist")
        func timeoutBehindAssistedJob() async throws {
            let pool = TestPools.pool(workers: 1) { $0.idleStrategy = Self.tasksRead }
            for index in 0..<20 { _ = try await pool.submit(Square(index)).value }
            let quick = try pool.submit(Square(3))
            // A minute long, with a limit of a fifth of a second: if no one watched the limit, the job would run
            // its minute and come back with a pid instead of timedOut.
            let long = try pool.submit(Nap(milliseconds: 60_000), options: JobOptions(timeout: .milliseconds(200)))
            #expect(try await quick.value == 9)
            #expect(executorError(await long.result)?.code == .timedOut)
            await pool.shutdown()
        }

        @Test("garbage read by an awaiting task's assist ends the worker with protocolViolation, as the driver would")
        func garbageSeenByAwaitingTask() async throws {
            let pool = TestPools.pool(workers: 1) { $0.idleStrategy = Self.tasksRead }
            #expect(executorError(try await pool.submit(Sabotage(.garbage)).result)?.code == .protocolViolation)
            #expect(try await pool.submit(Square(5)).value == 25)
            await pool.shutdown()
        }

        @Test("cancelling a task while its job outlasts the assist cancels the job")
        func cancelAfterAssist() async throws {
            let pool = try await Self.warmPool(Self.parkedDrivers)
            let gate = NapMarked.freshPath()
            defer { unlink(gate) }
            let before = Self.ended(pool)
            let handle = try pool.submit(AwaitFile(path: gate))
            let waiter = Task { try await handle.value }
            #expect(await eventually(seconds: 120) { Self.ended(pool) == before + 1 })
            waiter.cancel()
            let outcome = await waiter.result
            #expect(((try? outcome.get()) == nil))
            #expect(handle.state == .cancelled)
            #expect(try await pool.submit(Square(5)).value == 25)
            await pool.shutdown()
        }

        @Test("a task cancelled before it awaits does not assist, however long the assist: it cancels the job at once")
        func cancelledTaskDoesNotAssist() async throws {
            let pool = try await Self.warmPool(Self.tasksRead)
            let before = Self.record(pool)
            let gate = NapMarked.freshPath()
            defer { unlink(gate) }
            let handle = try pool.submit(AwaitFile(path: gate))
            let waiter = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await handle.value
            }
            let outcome = await waiter.result
            #expect(executorError(outcome)?.code == .cancelled)
            #expect(handle.state == .cancelled)
            #expect(Self.record(pool) == before)
            await pool.shutdown()
        }
    }
}
