import Glibc
import Synchronization
import Testing
import TriadCore
import TriadProcessesTestSupport

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
    /// pool's backing off, and jobs under each strategy, by the events of the pool's record of its assists.
    @Suite("Awaiting a pool's job", .serialized)
    struct ProcessPoolAwaitAssistTests {
        /// The pool's record of its awaiting tasks' assists.
        private static func record(_ pool: ProcessPoolExecutor) -> AwaitAssistPolicy {
            pool.storage.awaitAssistPolicy.withLock { $0 }
        }

        @Test("a job that outlasts the assist is a miss, and its task suspends and still gets its value; after four the pool backs off")
        func missesThenBackOff() async throws {
            let pool = TestPools.pool(workers: 1) { $0.idleStrategy.awaitAssist = .microseconds(200) }
            for round in 1...AwaitAssistPolicy.missesBeforeBackingOff + 1 {
                let gate = NapMarked.freshPath()
                defer { unlink(gate) }
                // The job runs until the test opens its gate, so the task's assist ends before the job does.
                let handle = try pool.submit(AwaitFile(path: gate))
                let waiter = Task { try await handle.value }
                if round <= AwaitAssistPolicy.missesBeforeBackingOff {
                    #expect(await eventually(seconds: 120) { Self.record(pool).misses == round })
                } else {
                    // Backed off: this task suspends at once, and only counts itself among the skipped.
                    #expect(await eventually(seconds: 120) { Self.record(pool).skipped == 1 })
                    #expect(Self.record(pool).misses == AwaitAssistPolicy.missesBeforeBackingOff)
                }
                #expect(handle.state != .succeeded)
                AwaitFile.open(gate)
                #expect(try await waiter.value > 0)
            }
            await pool.shutdown()
        }

        @Test("short jobs awaited in turn come back through the assist under every strategy", arguments: [
            IdleStrategy.balanced, .lowLatency, .lowCPU,
            IdleStrategy(spin: .zero, yield: .zero, awaitAssist: .seconds(600)),
        ])
        func shortJobs(strategy: IdleStrategy) async throws {
            let pool = TestPools.pool(workers: 2) { $0.idleStrategy = strategy }
            for value in 0..<300 { #expect(try await pool.submit(Square(value)).value == value * value) }
            let outcomes = try await pool.submit(Throw(registered: true)).result
            #expect((try? outcomes.get()) == nil)
            if strategy.awaitAssist == .seconds(600) {
                // No await outlasts ten minutes of assisting: none is a miss.
                #expect(Self.record(pool).misses == 0)
            }
            await pool.shutdown()
        }

        /// Drivers that park at once, and awaiting tasks that read results for as long as it takes: every result
        /// that a task awaits comes to it through its own assist.
        private static let tasksRead = IdleStrategy(spin: .zero, yield: .zero, awaitAssist: .seconds(600))

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
            let pool = TestPools.pool(workers: 1) { $0.idleStrategy.awaitAssist = .microseconds(200) }
            let gate = NapMarked.freshPath()
            defer { unlink(gate) }
            let handle = try pool.submit(AwaitFile(path: gate))
            let waiter = Task { try await handle.value }
            #expect(await eventually(seconds: 120) { Self.record(pool).misses == 1 })
            waiter.cancel()
            let outcome = await waiter.result
            #expect(((try? outcome.get()) == nil))
            #expect(handle.state == .cancelled)
            #expect(try await pool.submit(Square(5)).value == 25)
            await pool.shutdown()
        }
    }
}
