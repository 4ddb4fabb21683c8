import Glibc
import Testing
import TriadCore
import TriadProcessesTestSupport

@testable import TriadProcesses

/// A worker that is no process: the state machine only needs to tell workers apart.
private final class StandIn: PoolWorker {
    let id: Int
    let pid: Int32
    init(_ id: Int) {
        self.id = id
        pid = Int32(10_000 + id)
    }
}

/// The pool's state machine with no process at all: each test plays the storage's part, feeding events in and
/// applying the effects that come out (resolving handles), and checks both.
private struct Machine {
    var state: PoolState<StandIn>
    var now: UInt64 = 1_000_000_000
    var effects = PoolEffects<StandIn>()
    private var nextSequence: UInt64 = 1
    private var workers = 0

    init(
        workers: Int = 1,
        crashRetries: Int = 0,
        maxJobsPerWorker: Int? = nil,
        memoryLimit: Int? = nil,
        defaultTimeout: Duration? = nil,
        batches: Bool = false,
        initializer: (@Sendable () -> PoolEntry)? = nil
    ) {
        state = PoolState(
            workers: workers, pipelineDepth: 2, batchesQuickJobs: batches, crashRetries: crashRetries,
            maxJobsPerWorker: maxJobsPerWorker, idleTimeout: nil, memoryLimit: memoryLimit,
            defaultTimeout: defaultTimeout, grace: 1_000_000_000, initializer: initializer
        )
    }

    /// Runs one event and applies what it asks for, as the storage does after its lock.
    mutating func event(_ body: (inout PoolState<StandIn>, inout PoolEffects<StandIn>, UInt64) -> Void) {
        var effects = PoolEffects<StandIn>()
        body(&state, &effects, now)
        for delivery in effects.deliveries {
            delivery.entry.deliver(delivery.items, first: delivery.first, count: delivery.count)
        }
        for (entry, error) in effects.failures { entry.fail(error) }
        self.effects = effects
    }

    mutating func sequence() -> UInt64 {
        defer { nextSequence += 1 }
        return nextSequence
    }

    /// A submitted `Square`.
    mutating func submit(_ value: Int, timeout: Duration? = nil) -> (JobHandle<Int>, PoolEntry) {
        let sequence = sequence()
        // swiftlint:disable:next force_try
        let encoded = try! PoolEntry.encodedMessage(
            for: Square(value), named: Square.jobName, sequence: sequence, maxFrameSize: 1 << 20
        )
        let entry = SingleJobEntry<Square>(
            handle: JobHandle(jobName: Square.jobName), registry: TestPools.registry, sequence: sequence,
            encoded: encoded, timeout: timeout
        )
        event { state, effects, now in state.submit(entry, now: now, effects: &effects) }
        return (entry.handle, entry)
    }

    /// A worker that has started, as its driver reports it.
    mutating func start() -> StandIn {
        workers += 1
        let worker = StandIn(workers)
        event { state, effects, now in state.workerStarted(worker, now: now, effects: &effects) }
        return worker
    }

    /// The worker's answer to a single job: `Square`'s output.
    mutating func answer(_ worker: StandIn, sequence: UInt64, value: Int) {
        let item = PoolStateTests.success(value)
        event { state, effects, now in
            state.results(worker.id, [IncomingResult(sequence: sequence, items: [item])], now: now, effects: &effects)
        }
    }

    /// The worker's answer to jobs `first..<first + count` of a chunk or batch: their outputs, with failures.
    mutating func answerPart(_ worker: StandIn, sequence: UInt64, first: Int, outputs: [Int], failingAt: [Int] = []) {
        var outcome = WireBatchOutcome<Int>(outputs: [], failures: [])
        for (index, output) in outputs.enumerated() {
            if failingAt.contains(index) {
                outcome.failures.append(
                    WireBatchFailure(index: index, error: WireJobError(typeName: "T", description: "bad", payload: nil))
                )
            } else {
                outcome.outputs.append(output)
            }
        }
        // swiftlint:disable:next force_try
        let item = Frame(kind: WorkerFrameKind.data, flags: ResultFlag.success, payload: try! WireEncoder().encode(outcome))
        let result = IncomingResult(sequence: sequence, first: first, jobs: outputs.count, items: [item])
        event { state, effects, now in state.results(worker.id, [result], now: now, effects: &effects) }
    }

    /// The worker's end, with the job its page named last.
    mutating func exit(_ worker: StandIn, signal: Int32? = SIGSEGV, started: StartedJob?) {
        let exit = WorkerExit(pid: worker.pid, signal: signal, exitStatus: signal == nil ? 0 : nil, lastOutput: "")
        event { state, effects, now in
            state.workerExited(
                worker.id, exit: exit, violation: nil, lastStarted: started, tracksProgress: true, now: now,
                effects: &effects
            )
        }
    }

    mutating func tick(_ worker: StandIn, resident: Int? = nil, started: StartedJob? = nil) -> UInt64? {
        var next: UInt64?
        event { state, effects, now in
            next = state.tick(worker.id, now: now, resident: resident, started: started, effects: &effects)
        }
        return next
    }

    /// The sequences of the messages sent to `worker` by the last event.
    func sent(to worker: StandIn) -> Int { effects.sends.count { $0.0 === worker } }
    func killed(_ worker: StandIn) -> Bool { effects.signals.contains { $0.0 === worker && $0.1 == SIGKILL } }
    var inFlight: [PoolEntry] { state.slots.values.flatMap { Array($0.inFlight) } }
}

/// The code of a handle that has failed with an `ExecutorError`, without waiting: nil while it is pending.
private func code<T>(_ handle: JobHandle<T>) async -> ExecutorError.Code? {
    await error(handle)?.code
}

private func error<T>(_ handle: JobHandle<T>) async -> ExecutorError? {
    guard handle.isFinished, case .failure(let error as ExecutorError) = await handle.result else { return nil }
    return error
}

/// The value of a handle that has succeeded, without waiting: nil while it is pending.
private func value<T>(_ handle: JobHandle<T>) async -> T? {
    guard handle.isFinished, case .success(let value) = await handle.result else { return nil }
    return value
}

@Suite("Pool state machine, without processes")
struct PoolStateTests {
    static func success(_ value: Int) -> Frame {
        // swiftlint:disable:next force_try
        Frame(kind: WorkerFrameKind.data, flags: ResultFlag.success, payload: try! WireEncoder().encode(value))
    }

    @Test("a job waits for a worker, is sent when it starts, and resolves from its answer")
    func submitAndAnswer() async {
        var machine = Machine()
        let (handle, entry) = machine.submit(4)
        #expect(machine.effects.spawns.count == 1)
        let worker = machine.start()
        #expect(machine.sent(to: worker) == 1)
        #expect(handle.state == .running)
        machine.answer(worker, sequence: entry.sequence, value: 16)
        #expect(await value(handle) == 16)
        #expect(machine.inFlight.isEmpty)
    }

    @Test("a crash fails the running job with workerCrashed; the queued job runs on the replacement")
    func crash() async {
        var machine = Machine()
        let (first, firstEntry) = machine.submit(1)
        let (second, secondEntry) = machine.submit(2)
        let worker = machine.start()
        machine.exit(worker, started: StartedJob(sequence: firstEntry.sequence, ordinal: 0, startNanoseconds: 0))
        #expect(await code(first) == .workerCrashed)
        #expect(machine.effects.spawns.count == 1)
        #expect(second.state != .succeeded)
        let replacement = machine.start()
        machine.answer(replacement, sequence: secondEntry.sequence, value: 4)
        #expect(await value(second) == 4)
    }

    @Test("with retries, a crashed job runs again, and fails once its attempts are spent")
    func retries() async {
        var machine = Machine(crashRetries: 1)
        let (handle, entry) = machine.submit(3)
        let started = StartedJob(sequence: entry.sequence, ordinal: 0, startNanoseconds: 0)
        machine.exit(machine.start(), started: started)
        #expect(!handle.isFinished)
        #expect(entry.attempts == 1)
        machine.exit(machine.start(), started: started)
        #expect(await error(handle)?.message.contains("after 2 attempts") == true)
    }

    @Test("a crash between jobs fails none; the jobs sent ahead run again")
    func crashBetweenJobs() async {
        var machine = Machine()
        let (handle, entry) = machine.submit(5)
        let worker = machine.start()
        machine.exit(worker, started: nil)
        #expect(!handle.isFinished)
        let replacement = machine.start()
        machine.answer(replacement, sequence: entry.sequence, value: 25)
        #expect(await value(handle) == 25)
    }

    @Test("a crash inside a chunk fails its job alone; the jobs before and after it run again")
    func crashInChunk() async throws {
        var machine = Machine()
        let tracker = ProgressTracker(total: 10, progress: nil)
        let chunk = MapChunk<Square, [Result<Int, any Error>]>(
            (0..<10).map(Square.init)[...], named: Square.jobName, ordered: false, timeout: nil, tracker: tracker,
            registry: TestPools.registry, pool: TestPools.configuration()
        )
        let entry = try chunk.firstEntry(sequence: machine.sequence())
        machine.event { state, effects, now in state.submit(entry, now: now, effects: &effects) }
        let worker = machine.start()
        machine.answerPart(worker, sequence: entry.sequence, first: 0, outputs: [0, 1, 4])
        #expect(entry.answered == 3)
        // Jobs 3 and 4 finished unseen; job 5 crashed the worker.
        machine.exit(worker, started: StartedJob(sequence: entry.sequence, ordinal: 5, startNanoseconds: 0))
        let pieces = machine.state.queue.map { $0 as! ChunkEntry<Square, [Result<Int, any Error>]> }
        #expect(pieces.map(\.range) == [3..<5, 6..<10])
        #expect(pieces.allSatisfy { $0.sequence & (1 << 63) != 0 })
        let replacement = machine.start()
        for piece in pieces {
            let outputs = piece.range.map { $0 * $0 }
            machine.answerPart(replacement, sequence: piece.sequence, first: 0, outputs: outputs)
        }
        let results = try #require(await value(chunk.handle))
        #expect(results.count == 10)
        for (index, result) in results.enumerated() {
            if index == 5 {
                #expect((result.failure as? ExecutorError)?.code == .workerCrashed)
            } else {
                #expect((try? result.get()) == index * index)
            }
        }
    }

    @Test("a crash inside a batch fails its job alone; the others run again alone")
    func crashInBatch() async {
        var machine = Machine()
        let jobs = (0..<3).map { _ in machine.submit(7) }
        let batch = BatchEntry(jobs.map(\.1))
        // The jobs travel as one batch, as `batched` joins them.
        machine.state.queue = EntryQueue([batch])
        let worker = machine.start()
        machine.exit(worker, started: StartedJob(sequence: batch.sequence, ordinal: 1, startNanoseconds: 0))
        #expect(await code(jobs[1].0) == .workerCrashed)
        #expect(!jobs[0].0.isFinished && !jobs[2].0.isFinished)
        #expect(machine.state.queue.map(\.sequence) == [jobs[0].1.sequence, jobs[2].1.sequence])
        #expect(jobs[0].1.runsAlone && jobs[2].1.runsAlone)
    }

    @Test("each job of a chunk has the whole timeout from its own start; the late one fails alone")
    func timeoutPerJob() async throws {
        var machine = Machine()
        let tracker = ProgressTracker(total: 4, progress: nil)
        let chunk = MapChunk<Square, [Result<Int, any Error>]>(
            (0..<4).map(Square.init)[...], named: Square.jobName, ordered: false, timeout: .seconds(1),
            tracker: tracker, registry: TestPools.registry, pool: TestPools.configuration()
        )
        let entry = try chunk.firstEntry(sequence: machine.sequence())
        machine.event { state, effects, now in state.submit(entry, now: now, effects: &effects) }
        let worker = machine.start()
        let start = machine.now
        // Job 2 started 1.5 s after the chunk: the chunk as a whole is past a second, the job is not.
        machine.now = start + 2_000_000_000
        let running = StartedJob(sequence: entry.sequence, ordinal: 2, startNanoseconds: start + 1_500_000_000)
        let next = machine.tick(worker, started: running)
        #expect(!machine.killed(worker))
        #expect(next == start + 2_500_000_000)
        machine.now = start + 2_600_000_000
        _ = machine.tick(worker, started: running)
        #expect(machine.killed(worker))
        machine.exit(worker, signal: SIGKILL, started: running)
        let pieces = machine.state.queue.map { $0 as! ChunkEntry<Square, [Result<Int, any Error>]> }
        #expect(pieces.map(\.range) == [0..<2, 3..<4])
        let replacement = machine.start()
        for piece in pieces {
            machine.answerPart(replacement, sequence: piece.sequence, first: 0, outputs: piece.range.map { $0 * $0 })
        }
        let results = try #require(await value(chunk.handle))
        #expect((results[2].failure as? ExecutorError)?.code == .timedOut)
        #expect(results.enumerated().allSatisfy { $0.offset == 2 || (try? $0.element.get()) == $0.offset * $0.offset })
    }

    @Test("a single job's timeout counts from when it was sent to an idle worker")
    func timeoutSingle() async {
        var machine = Machine(defaultTimeout: .milliseconds(500))
        let (handle, _) = machine.submit(2)
        let worker = machine.start()
        machine.now += 400_000_000
        _ = machine.tick(worker)
        #expect(!machine.killed(worker))
        machine.now += 200_000_000
        _ = machine.tick(worker)
        #expect(machine.killed(worker))
        machine.exit(worker, signal: SIGKILL, started: nil)
        #expect(await code(handle) == .timedOut)
    }

    @Test("cancelling a running job kills its worker and fails it cancelled; a queued one is skipped")
    func cancellation() async {
        var machine = Machine()
        let (running, runningEntry) = machine.submit(1)
        let (queued, queuedEntry) = machine.submit(2)
        let (later, laterEntry) = machine.submit(3)
        let worker = machine.start()
        #expect(running.cancel())
        machine.event { state, effects, _ in state.cancel(runningEntry, started: { _ in nil }, effects: &effects) }
        #expect(machine.killed(worker))
        #expect(queued.cancel())
        machine.event { state, effects, _ in state.cancel(queuedEntry, started: { _ in nil }, effects: &effects) }
        machine.exit(worker, signal: SIGKILL, started: StartedJob(sequence: runningEntry.sequence, ordinal: 0, startNanoseconds: 0))
        #expect(running.state == .cancelled)
        let replacement = machine.start()
        // The cancelled queued job is never sent; the next one is.
        #expect(machine.effects.sends.count == 1)
        machine.answer(replacement, sequence: laterEntry.sequence, value: 9)
        #expect(await value(later) == 9)
        #expect(queued.state == .cancelled)
    }

    @Test("a job cancelled before it starts in a batch kills its worker when its page shows it starting")
    func cancelAhead() async {
        var machine = Machine()
        let jobs = (0..<3).map { _ in machine.submit(2) }
        let batch = BatchEntry(jobs.map(\.1))
        machine.state.queue = EntryQueue([batch])
        let worker = machine.start()
        #expect(jobs[2].0.cancel())
        let first = StartedJob(sequence: batch.sequence, ordinal: 0, startNanoseconds: 0)
        machine.event { state, effects, _ in state.cancel(jobs[2].1, started: { _ in first }, effects: &effects) }
        #expect(!machine.killed(worker))
        #expect(machine.effects.wakes.count == 1)
        #expect(machine.tick(worker, started: first) != nil)
        #expect(!machine.killed(worker))
        _ = machine.tick(worker, started: StartedJob(sequence: batch.sequence, ordinal: 2, startNanoseconds: 0))
        #expect(machine.killed(worker))
    }

    @Test("a worker above the memory limit is killed and its job fails with memoryLimitExceeded")
    func memoryLimit() async {
        var machine = Machine(memoryLimit: 100 << 20)
        let (handle, entry) = machine.submit(6)
        let worker = machine.start()
        let running = StartedJob(sequence: entry.sequence, ordinal: 0, startNanoseconds: machine.now)
        _ = machine.tick(worker, resident: 50 << 20, started: running)
        #expect(!machine.killed(worker))
        _ = machine.tick(worker, resident: 300 << 20, started: running)
        #expect(machine.killed(worker))
        machine.exit(worker, signal: SIGKILL, started: running)
        #expect(await code(handle) == .memoryLimitExceeded)
    }

    @Test("maxJobsPerWorker retires a worker after its jobs and starts a replacement")
    func recycling() async {
        var machine = Machine(maxJobsPerWorker: 1)
        let (first, firstEntry) = machine.submit(1)
        let (second, _) = machine.submit(2)
        let worker = machine.start()
        #expect(machine.sent(to: worker) == 1)
        machine.answer(worker, sequence: firstEntry.sequence, value: 1)
        #expect(await value(first) == 1)
        #expect(machine.effects.closes.contains { $0 === worker })
        #expect(machine.effects.spawns.count == 1)
        machine.exit(worker, signal: nil, started: nil)
        let replacement = machine.start()
        #expect(machine.sent(to: replacement) == 1)
        #expect(!second.isFinished)
    }

    @Test("a failing initializer kills its worker and fails the queue with workerStartFailed")
    func initializerFailure() async {
        let initializer: @Sendable () -> PoolEntry = {
            PoolEntry(sequence: 0, jobName: "Init", message: OutgoingMessage(), itemCount: 1, timeout: nil,
                      isInitializer: true)
        }
        var machine = Machine(initializer: initializer)
        let (handle, _) = machine.submit(1)
        let worker = machine.start()
        #expect(machine.sent(to: worker) == 1)
        // swiftlint:disable:next force_try
        let error = try! WireEncoder().encode(WireJobError(typeName: "Setup", description: "no database", payload: nil))
        let item = Frame(kind: WorkerFrameKind.data, flags: ResultFlag.failure, payload: error)
        machine.event { state, effects, now in
            state.results(worker.id, [IncomingResult(sequence: 0, items: [item])], now: now, effects: &effects)
        }
        #expect(machine.killed(worker))
        #expect(await code(handle) == .workerStartFailed)
    }

    @Test("a shutdown lets queued jobs finish, then closes the workers; with cancelling, they fail cancelled")
    func shutdown() async {
        var machine = Machine()
        let (running, runningEntry) = machine.submit(1)
        let (queued, queuedEntry) = machine.submit(2)
        let worker = machine.start()
        machine.event { state, effects, _ in state.shutdown(cancelPending: false, effects: &effects) }
        #expect(machine.effects.closes.isEmpty)
        machine.answer(worker, sequence: runningEntry.sequence, value: 1)
        machine.answer(worker, sequence: queuedEntry.sequence, value: 4)
        #expect(await value(running) == 1)
        #expect(await value(queued) == 4)
        #expect(machine.effects.closes.contains { $0 === worker })
        machine.exit(worker, signal: nil, started: nil)
        #expect(machine.state.isStopped)

        var cancelling = Machine()
        let (busy, _) = cancelling.submit(1)
        let (waiting, _) = cancelling.submit(2)
        _ = cancelling.start()
        let (pending, _) = cancelling.submit(3)
        cancelling.event { state, effects, _ in state.shutdown(cancelPending: true, effects: &effects) }
        #expect(await code(pending) == .cancelled)
        #expect(!busy.isFinished)
        #expect(await code(waiting) == .cancelled)
    }

    @Test("an answer out of turn is a protocol violation that kills the worker")
    func outOfTurn() async {
        var machine = Machine()
        let (handle, entry) = machine.submit(1)
        let worker = machine.start()
        machine.answer(worker, sequence: entry.sequence + 100, value: 1)
        #expect(machine.killed(worker))
        machine.exit(worker, signal: SIGKILL, started: nil)
        #expect(await code(handle) == .protocolViolation)
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
