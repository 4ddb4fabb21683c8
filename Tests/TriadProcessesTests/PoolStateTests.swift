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
/// carrying out the actions that come out (resolving handles through their sinks), and checks both.
private struct Machine {
    var state: PoolState<StandIn>
    var now: UInt64 = 1_000_000_000
    var actions = PoolActions<StandIn>()
    private var nextSequence: UInt64 = 1
    private var workers = 0
    /// The sink that the `Square` jobs share, as a pool's template keeps it.
    private static let sink = SingleJobSink<Square>(jobName: Square.jobName, registry: TestPools.registry)

    init(
        workers: Int = 1,
        crashRetries: Int = 0,
        maxJobsPerWorker: Int? = nil,
        idleTimeout: Duration? = nil,
        memoryLimit: Int? = nil,
        defaultTimeout: Duration? = nil,
        batches: Bool = false,
        initializer: PoolWork? = nil
    ) {
        state = PoolState(
            workers: workers, pipelineDepth: 2, batchesQuickJobs: batches, crashRetries: crashRetries,
            maxJobsPerWorker: maxJobsPerWorker, idleTimeout: idleTimeout?.saturatingNanoseconds,
            memoryLimit: memoryLimit, defaultTimeout: defaultTimeout, grace: 1_000_000_000, initializer: initializer
        )
    }

    /// Runs one event and carries out what it asks of handles, as the storage does after its lock.
    mutating func event(_ body: (inout PoolState<StandIn>, inout PoolActions<StandIn>, UInt64) -> Void) {
        var actions = PoolActions<StandIn>()
        body(&state, &actions, now)
        let abandoned = actions.resolveJobs()
        if !abandoned.isEmpty { state.abandon(roots: abandoned) }
        self.actions = actions
    }

    mutating func sequence() -> UInt64 {
        defer { nextSequence += 1 }
        return nextSequence
    }

    /// A `Square` job's work, not submitted yet.
    mutating func work(_ value: Int, timeout: Duration? = nil) -> (JobHandle<Int>, PoolWork) {
        let sequence = sequence()
        // swiftlint:disable:next force_try
        let encoded = try! JobMessages.single(Square(value), named: Square.jobName, sequence: sequence, maxFrameSize: 1 << 20)
        let handle = JobHandle<Int>(jobName: Square.jobName)
        let work = PoolWork(
            sequence: sequence, jobName: Square.jobName, encoded: encoded, timeout: timeout, sink: Self.sink,
            handle: handle
        )
        return (handle, work)
    }

    /// A submitted `Square`.
    mutating func submit(_ value: Int, timeout: Duration? = nil) -> (JobHandle<Int>, PoolWork) {
        let (handle, work) = work(value, timeout: timeout)
        event { state, actions, now in state.submit(work, now: now, actions: &actions) }
        return (handle, work)
    }

    /// A submitted chunk of `Square`s of `0..<count`, its outcomes unordered or ordered.
    mutating func submitChunk<Output: Sendable>(
        count: Int,
        as _: Output.Type,
        timeout: Duration? = nil
    ) -> (MapChunk<Square, Output>, PoolWork) {
        let chunk = MapChunk<Square, Output>(
            (0..<count).map(Square.init)[...], named: Square.jobName, ordered: Output.self == [Int].self,
            timeout: timeout, tracker: ProgressTracker(total: count, progress: nil), registry: TestPools.registry,
            pool: TestPools.configuration()
        )
        // swiftlint:disable:next force_try
        let work = try! chunk.work(sequence: sequence())
        event { state, actions, now in state.submit(work, now: now, actions: &actions) }
        return (chunk, work)
    }

    /// A worker that has started, as its driver reports it.
    mutating func start() -> StandIn {
        workers += 1
        let worker = StandIn(workers)
        event { state, actions, now in state.workerStarted(worker, now: now, actions: &actions) }
        return worker
    }

    /// The worker's answer to a single job: `Square`'s output.
    mutating func answer(_ worker: StandIn, sequence: UInt64, value: Int) {
        let item = PoolStateTests.success(value)
        event { state, actions, now in
            state.results(worker.id, [IncomingResult(sequence: sequence, items: [ReceivedFrame(item)])], now: now, actions: &actions)
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
        let result = IncomingResult(sequence: sequence, first: first, jobs: outputs.count, items: [ReceivedFrame(item)])
        event { state, actions, now in state.results(worker.id, [result], now: now, actions: &actions) }
    }

    /// The worker's end, with the job its page named last.
    mutating func exit(_ worker: StandIn, signal: Int32? = SIGSEGV, started: StartedJob?) {
        let exit = WorkerExit(pid: worker.pid, signal: signal, exitStatus: signal == nil ? 0 : nil, lastOutput: "")
        event { state, actions, now in
            state.workerExited(
                worker.id, exit: exit, violation: nil, lastStarted: started, tracksProgress: true, now: now,
                actions: &actions
            )
        }
    }

    mutating func tick(_ worker: StandIn, resident: Int? = nil, started: StartedJob? = nil) -> UInt64? {
        var next: UInt64?
        event { state, actions, now in
            next = state.tick(worker.id, now: now, resident: resident, started: started, actions: &actions)
        }
        return next
    }

    /// Cancels the handle that came with `root`, the workers' pages naming `started`.
    mutating func cancel(_ root: UInt64, started: StartedJob? = nil) {
        event { state, actions, _ in state.cancel(root: root, started: { _ in started }, actions: &actions) }
    }

    /// How many messages the last event sent to `worker`.
    func sent(to worker: StandIn) -> Int { actions.sends.count { $0.0 === worker } }
    func killed(_ worker: StandIn) -> Bool { actions.signals.contains { $0.0 === worker && $0.1 == SIGKILL } }
    var inFlight: [PoolWork] { state.slots.flatMap { Array($0.inFlight) } }
    var queued: [PoolWork] { Array(state.queue) }
    func phase(of worker: StandIn) -> PoolSlot<StandIn>.Phase? {
        state.slotIndex(of: worker.id).map { state.slots[$0].phase }
    }
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

    static func failure(_ description: String) -> Frame {
        // swiftlint:disable:next force_try
        let error = try! WireEncoder().encode(WireJobError(typeName: "Setup", description: description, payload: nil))
        return Frame(kind: WorkerFrameKind.data, flags: ResultFlag.failure, payload: error)
    }

    @Test("a job waits for a worker, is sent when it starts, and resolves from its answer")
    func submitAndAnswer() async {
        var machine = Machine()
        let (handle, work) = machine.submit(4)
        #expect(machine.actions.spawns.count == 1)
        #expect(handle.state == .pending)
        let worker = machine.start()
        #expect(machine.sent(to: worker) == 1)
        #expect(handle.state == .running)
        #expect(machine.phase(of: worker).map { if case .ready = $0 { true } else { false } } == true)
        machine.answer(worker, sequence: work.sequence, value: 16)
        #expect(await value(handle) == 16)
        #expect(machine.inFlight.isEmpty)
    }

    @Test("a worker's first jobs, and slow ones, go one at a time: the second job waits for the second worker")
    func noJobBehindASlowOne() async {
        var machine = Machine(workers: 2)
        let (_, firstWork) = machine.submit(1)
        let (second, secondWork) = machine.submit(2)
        let (third, _) = machine.submit(3)
        let early = machine.start()
        // The first worker's speed is unknown: it gets one job, not the second one too.
        #expect(machine.sent(to: early) == 1)
        #expect(machine.queued.count == 2)
        let late = machine.start()
        #expect(machine.sent(to: late) == 1)
        #expect(second.state == .running)
        #expect(third.state == .pending)
        // Quick jobs, in microseconds, are sent ahead of the one running.
        for value in 4..<8 { _ = machine.submit(value) }
        machine.now += 20_000
        machine.answer(late, sequence: secondWork.sequence, value: 4)
        #expect(third.state == .running)
        #expect(machine.state.slots.first { $0.worker === late }?.inFlight.count == 2)
        // A job of 5 ms: its worker goes on one job at a time.
        machine.now += 5_000_000
        machine.answer(early, sequence: firstWork.sequence, value: 1)
        #expect(machine.state.slots.first { $0.worker === early }?.inFlight.count == 1)
    }

    @Test("a map's chunks of quick jobs go ahead of the one running, even when a chunk takes milliseconds")
    func chunksArePipelined() async {
        var machine = Machine()
        let (_, first) = machine.submitChunk(count: 100, as: [Int].self)
        _ = machine.submitChunk(count: 100, as: [Int].self)
        _ = machine.submitChunk(count: 100, as: [Int].self)
        let worker = machine.start()
        #expect(machine.inFlight.count == 1)
        // Speed unknown: at the chunk's first part, the next chunk is sent behind it.
        machine.now += 2_500_000
        machine.answerPart(worker, sequence: first.sequence, first: 0, outputs: Array(repeating: 0, count: 50))
        #expect(machine.inFlight.count == 2)
        // 100 jobs in 5 ms, 50 µs each: quick per job, though the chunk took 5 ms, so the third goes ahead too.
        machine.now += 2_500_000
        machine.answerPart(worker, sequence: first.sequence, first: 50, outputs: Array(repeating: 0, count: 50))
        #expect(machine.inFlight.count == 2)
        #expect(machine.queued.isEmpty)
    }

    @Test("a crash fails the running job with workerCrashed; the queued job runs on the replacement")
    func crash() async {
        var machine = Machine()
        let (first, firstWork) = machine.submit(1)
        let (second, secondWork) = machine.submit(2)
        let worker = machine.start()
        machine.exit(worker, started: StartedJob(sequence: firstWork.sequence, ordinal: 0, startNanoseconds: 0))
        #expect(await code(first) == .workerCrashed)
        #expect(await error(first)?.message.contains("signal 11") == true)
        #expect(machine.actions.spawns.count == 1)
        #expect(!second.isFinished)
        let replacement = machine.start()
        machine.answer(replacement, sequence: secondWork.sequence, value: 4)
        #expect(await value(second) == 4)
    }

    @Test("the state reports a crash, a kill, respawns backing off and a draining shutdown as events to log")
    func events() async {
        var machine = Machine(crashRetries: 0, defaultTimeout: .seconds(1))
        let (_, work) = machine.submit(1)
        var worker = machine.start()
        machine.exit(worker, started: StartedJob(sequence: work.sequence, ordinal: 0, startNanoseconds: 0))
        guard case .workerEnded(let pid, _, nil, let job?, true)? = machine.actions.events.first else {
            Issue.record("no crash event: \(machine.actions.events)")
            return
        }
        #expect(pid == worker.pid)
        #expect(job == Square.jobName)
        // Two more crashes in a row: the third respawn waits, and says so.
        for value in 2...3 {
            let (_, next) = machine.submit(value)
            worker = machine.start()
            machine.exit(worker, started: StartedJob(sequence: next.sequence, ordinal: 0, startNanoseconds: 0))
        }
        #expect(machine.actions.events.contains { if case .respawnDelayed(_, 3) = $0 { true } else { false } })
        // A job past its timeout: its worker is killed, and the event says why.
        let (_, slow) = machine.submit(4)
        worker = machine.start()
        machine.now += 2_000_000_000
        _ = machine.tick(worker, started: StartedJob(sequence: slow.sequence, ordinal: 0, startNanoseconds: machine.now - 2_000_000_000))
        #expect(machine.killed(worker))
        machine.exit(worker, signal: SIGKILL, started: nil)
        guard case .workerEnded(_, _, let reason?, let killedJob?, false)? = machine.actions.events.first else {
            Issue.record("no kill event: \(machine.actions.events)")
            return
        }
        #expect(reason.contains("timeout"))
        #expect(killedJob == Square.jobName)
        // A shutdown with work left drains, and says how much.
        _ = machine.submit(5)
        _ = machine.submit(6)
        machine.event { state, actions, _ in state.shutdown(cancelPending: false, actions: &actions) }
        #expect(machine.actions.events == [.draining(queued: 2, inFlight: 0, cancelPending: false)])
    }

    @Test("a worker that exits with a status while running a job fails it too, naming the status")
    func exitStatus() async {
        var machine = Machine()
        let (handle, work) = machine.submit(1)
        let worker = machine.start()
        let exit = WorkerExit(pid: worker.pid, signal: nil, exitStatus: 3, lastOutput: "Fatal error: out of range\n")
        machine.event { state, actions, now in
            state.workerExited(
                worker.id, exit: exit, violation: nil,
                lastStarted: StartedJob(sequence: work.sequence, ordinal: 0, startNanoseconds: 0),
                tracksProgress: true, now: now, actions: &actions
            )
        }
        let failure = await error(handle)
        #expect(failure?.code == .workerCrashed)
        #expect(failure?.message.contains("out of range") == true)
    }

    @Test("a protocol violation found by the driver fails the running job with protocolViolation")
    func driverViolation() async {
        var machine = Machine()
        let (handle, work) = machine.submit(1)
        let worker = machine.start()
        let exit = WorkerExit(pid: worker.pid, signal: SIGKILL, exitStatus: nil, lastOutput: "")
        let violation = ExecutorError(.protocolViolation, message: "garbage")
        machine.event { state, actions, now in
            state.workerExited(
                worker.id, exit: exit, violation: violation,
                lastStarted: StartedJob(sequence: work.sequence, ordinal: 0, startNanoseconds: 0),
                tracksProgress: true, now: now, actions: &actions
            )
        }
        #expect(await code(handle) == .protocolViolation)
        #expect(machine.state.consecutiveCrashes == 0)
    }

    @Test("with retries, a crashed job runs again, and fails once its attempts are spent")
    func retries() async {
        var machine = Machine(crashRetries: 1)
        let (handle, work) = machine.submit(3)
        let started = StartedJob(sequence: work.sequence, ordinal: 0, startNanoseconds: 0)
        machine.exit(machine.start(), started: started)
        #expect(!handle.isFinished)
        #expect(machine.queued.first?.attempts == 1)
        machine.exit(machine.start(), started: started)
        #expect(await error(handle)?.message.contains("after 2 attempts") == true)
    }

    @Test("repeated crashes back the respawns off; a result resets the count")
    func backoff() {
        var machine = Machine(crashRetries: 10)
        let (_, work) = machine.submit(3)
        let started = StartedJob(sequence: work.sequence, ordinal: 0, startNanoseconds: 0)
        var delays: [Duration] = []
        for _ in 0..<5 {
            machine.exit(machine.start(), started: started)
            delays += machine.actions.spawns
        }
        #expect(delays == [.zero, .zero, .milliseconds(10), .milliseconds(20), .milliseconds(40)])
        let worker = machine.start()
        machine.answer(worker, sequence: work.sequence, value: 9)
        #expect(machine.state.consecutiveCrashes == 0)
    }

    @Test("a crash between jobs fails none; the jobs sent ahead run again")
    func crashBetweenJobs() async {
        var machine = Machine()
        let (handle, work) = machine.submit(5)
        let worker = machine.start()
        machine.exit(worker, started: nil)
        #expect(!handle.isFinished)
        let replacement = machine.start()
        machine.answer(replacement, sequence: work.sequence, value: 25)
        #expect(await value(handle) == 25)
    }

    @Test("a crash inside a chunk fails its job alone; the jobs before and after it run again with the same data")
    func crashInChunk() async throws {
        var machine = Machine()
        let (chunk, work) = machine.submitChunk(count: 10, as: [Result<Int, any Error>].self)
        let worker = machine.start()
        machine.answerPart(worker, sequence: work.sequence, first: 0, outputs: [0, 1, 4])
        #expect(machine.inFlight.first?.answered == 3)
        // Jobs 3 and 4 finished unseen; job 5 crashed the worker.
        machine.exit(worker, started: StartedJob(sequence: work.sequence, ordinal: 5, startNanoseconds: 0))
        let pieces = machine.queued
        #expect(pieces.map(\.offset) == [3, 6])
        #expect(pieces.map(\.itemCount) == [2, 4])
        #expect(pieces.allSatisfy { $0.sequence & (1 << 63) != 0 && $0.root == work.sequence })
        // Each piece's header names its jobs in the chunk's one array, which travels again unchanged.
        for piece in pieces {
            let frames = try #require(piece.message.frames())
            #expect(frames.count == 2)
            #expect(piece.message.byteCount - (frames[1].start) == work.message.byteCount - (try #require(work.message.frames()))[1].start)
        }
        let replacement = machine.start()
        for piece in pieces {
            let outputs = (piece.offset..<(piece.offset + piece.itemCount)).map { $0 * $0 }
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

    @Test("after a crash in an ordered map's chunk fails it, the chunk's other jobs do not run again")
    func orderedChunkAbandoned() async {
        var machine = Machine()
        let (chunk, work) = machine.submitChunk(count: 6, as: [Int].self)
        let worker = machine.start()
        machine.exit(worker, started: StartedJob(sequence: work.sequence, ordinal: 2, startNanoseconds: 0))
        #expect(await code(chunk.handle) == .workerCrashed)
        let replacement = machine.start()
        #expect(machine.sent(to: replacement) == 0)
        #expect(machine.queued.isEmpty && machine.inFlight.isEmpty)
    }

    @Test("a crash inside a batch fails its job alone; the others run again alone")
    func crashInBatch() async {
        var machine = Machine()
        let jobs = (0..<3).map { _ in machine.work(7) }
        // The jobs travel as one batch, as `batched` joins them.
        machine.state.queue.append(.batch(jobs.map(\.1)))
        let worker = machine.start()
        let batch = machine.inFlight[0]
        machine.exit(worker, started: StartedJob(sequence: batch.sequence, ordinal: 1, startNanoseconds: 0))
        #expect(await code(jobs[1].0) == .workerCrashed)
        #expect(!jobs[0].0.isFinished && !jobs[2].0.isFinished)
        #expect(machine.queued.map(\.sequence) == [jobs[0].1.sequence, jobs[2].1.sequence])
        #expect(machine.queued.allSatisfy { $0.runsAlone })
    }

    @Test("quick jobs of one kind join a batch, answered in parts, each job resolved from its place")
    func batching() async {
        var machine = Machine(batches: true)
        let (warmup, warmupWork) = machine.submit(1)
        let worker = machine.start()
        // The worker has taken microseconds for a job: the next jobs of the kind may travel together.
        machine.now += 10_000
        machine.answer(worker, sequence: warmupWork.sequence, value: 1)
        #expect(await value(warmup) == 1)
        let jobs = (2..<6).map { machine.work($0) }
        machine.event { state, actions, now in
            for (_, work) in jobs { state.queue.append(work) }
            state.dispatchToIdle(now: now, actions: &actions)
        }
        #expect(machine.state.batchesSent == 1)
        #expect(machine.inFlight.count == 1 && machine.inFlight[0].members.count == 4)
        let batch = machine.inFlight[0]
        machine.answerPart(worker, sequence: batch.sequence, first: 0, outputs: [4, 9])
        machine.answerPart(worker, sequence: batch.sequence, first: 2, outputs: [16, 25], failingAt: [1])
        #expect(await value(jobs[0].0) == 4)
        #expect(await value(jobs[2].0) == 16)
        #expect((await jobs[3].0.result).failure is RemoteJobError)
    }

    @Test("a batch the worker could not decode as a whole runs again, job by job")
    func batchFailedWhole() async {
        var machine = Machine()
        let jobs = (0..<2).map { _ in machine.work(3) }
        machine.state.queue.append(.batch(jobs.map(\.1)))
        let worker = machine.start()
        let batch = machine.inFlight[0]
        let result = IncomingResult(sequence: batch.sequence, first: 0, jobs: 2, items: [ReceivedFrame(PoolStateTests.failure("no"))])
        // A quick answer: the worker is known to be quick, so both jobs go to it at once.
        machine.now += 10_000
        machine.event { state, actions, now in state.results(worker.id, [result], now: now, actions: &actions) }
        #expect(!jobs[0].0.isFinished)
        #expect(machine.sent(to: worker) == 1)
        #expect(machine.inFlight.map(\.sequence) == [jobs[0].1.sequence, jobs[1].1.sequence])
    }

    @Test("each job of a chunk has the whole timeout from its own start; the late one fails alone")
    func timeoutPerJob() async throws {
        var machine = Machine()
        let (chunk, work) = machine.submitChunk(count: 4, as: [Result<Int, any Error>].self, timeout: .seconds(1))
        let worker = machine.start()
        let start = machine.now
        // Job 2 started 1.5 s after the chunk: the chunk as a whole is past a second, the job is not.
        machine.now = start + 2_000_000_000
        let running = StartedJob(sequence: work.sequence, ordinal: 2, startNanoseconds: start + 1_500_000_000)
        let next = machine.tick(worker, started: running)
        #expect(!machine.killed(worker))
        #expect(next == start + 2_500_000_000)
        machine.now = start + 2_600_000_000
        _ = machine.tick(worker, started: running)
        #expect(machine.killed(worker))
        machine.exit(worker, signal: SIGKILL, started: running)
        let pieces = machine.queued
        #expect(pieces.map { $0.offset..<($0.offset + $0.itemCount) } == [0..<2, 3..<4])
        let replacement = machine.start()
        for piece in pieces {
            let outputs = (piece.offset..<(piece.offset + piece.itemCount)).map { $0 * $0 }
            machine.answerPart(replacement, sequence: piece.sequence, first: 0, outputs: outputs)
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

    @Test("a timeout that never ends sets no deadline")
    func endlessTimeout() async {
        var machine = Machine(defaultTimeout: .seconds(Int64.max))
        let (handle, _) = machine.submit(2)
        let worker = machine.start()
        machine.now = .max - 1
        #expect(machine.tick(worker) == .max)
        #expect(!machine.killed(worker))
        #expect(!handle.isFinished)
    }

    @Test("cancelling a running job kills its worker and fails it cancelled; a queued one is dropped")
    func cancellation() async {
        var machine = Machine()
        let (running, runningWork) = machine.submit(1)
        let (queued, queuedWork) = machine.submit(2)
        let (later, laterWork) = machine.submit(3)
        let worker = machine.start()
        #expect(running.cancel())
        machine.cancel(runningWork.root)
        #expect(machine.killed(worker))
        #expect(queued.cancel())
        machine.cancel(queuedWork.root)
        machine.exit(worker, signal: SIGKILL, started: StartedJob(sequence: runningWork.sequence, ordinal: 0, startNanoseconds: 0))
        #expect(running.state == .cancelled)
        let replacement = machine.start()
        // The cancelled queued job is never sent; the next one is.
        #expect(machine.actions.sends.count == 1)
        #expect(machine.inFlight.map(\.sequence) == [laterWork.sequence])
        machine.answer(replacement, sequence: laterWork.sequence, value: 9)
        #expect(await value(later) == 9)
        #expect(queued.state == .cancelled)
        #expect(machine.state.cancelledRoots.isEmpty)
    }

    @Test("cancelling a chunk drops its pieces waiting in the queue and kills the worker running one")
    func cancelChunk() async {
        var machine = Machine(workers: 1)
        let (chunk, work) = machine.submitChunk(count: 8, as: [Result<Int, any Error>].self)
        let worker = machine.start()
        machine.exit(worker, started: StartedJob(sequence: work.sequence, ordinal: 3, startNanoseconds: 0))
        #expect(machine.queued.count == 2)
        let replacement = machine.start()
        let piece = machine.inFlight[0]
        #expect(chunk.handle.cancel())
        machine.cancel(work.root, started: StartedJob(sequence: piece.sequence, ordinal: 1, startNanoseconds: 0))
        #expect(machine.killed(replacement))
        machine.exit(replacement, signal: SIGKILL, started: nil)
        // The piece still queued is dropped when its turn comes, without being sent.
        _ = machine.start()
        #expect(machine.actions.sends.isEmpty)
        #expect(machine.queued.isEmpty)
        #expect(machine.state.cancelledRoots.isEmpty)
        #expect(await code(chunk.handle) == .cancelled)
    }

    @Test("a job cancelled before it starts in a batch kills its worker when its page shows it starting")
    func cancelAhead() async {
        var machine = Machine()
        let jobs = (0..<3).map { _ in machine.work(2) }
        machine.state.queue.append(.batch(jobs.map(\.1)))
        let worker = machine.start()
        let batch = machine.inFlight[0]
        #expect(jobs[2].0.cancel())
        let first = StartedJob(sequence: batch.sequence, ordinal: 0, startNanoseconds: 0)
        machine.cancel(jobs[2].1.root, started: first)
        #expect(!machine.killed(worker))
        #expect(machine.actions.wakes.count == 1)
        #expect(machine.tick(worker, started: first) != nil)
        #expect(!machine.killed(worker))
        _ = machine.tick(worker, started: StartedJob(sequence: batch.sequence, ordinal: 2, startNanoseconds: 0))
        #expect(machine.killed(worker))
        // The other jobs run again; the cancelled one does not.
        machine.exit(worker, signal: SIGKILL, started: StartedJob(sequence: batch.sequence, ordinal: 2, startNanoseconds: 0))
        #expect(machine.queued.map(\.sequence) == [jobs[0].1.sequence, jobs[1].1.sequence])
    }

    @Test("a worker above the memory limit is killed and its job fails with memoryLimitExceeded")
    func memoryLimit() async {
        var machine = Machine(memoryLimit: 100 << 20)
        let (handle, work) = machine.submit(6)
        let worker = machine.start()
        let running = StartedJob(sequence: work.sequence, ordinal: 0, startNanoseconds: machine.now)
        _ = machine.tick(worker, resident: 50 << 20, started: running)
        #expect(!machine.killed(worker))
        _ = machine.tick(worker, resident: 300 << 20, started: running)
        #expect(machine.killed(worker))
        machine.exit(worker, signal: SIGKILL, started: running)
        #expect(await code(handle) == .memoryLimitExceeded)
    }

    @Test("maxJobsPerWorker retires a worker after its jobs, closes it, and starts a replacement")
    func recycling() async {
        var machine = Machine(maxJobsPerWorker: 1)
        let (first, firstWork) = machine.submit(1)
        let (second, _) = machine.submit(2)
        let worker = machine.start()
        #expect(machine.sent(to: worker) == 1)
        #expect(machine.phase(of: worker).map { if case .retiring = $0 { true } else { false } } == true)
        machine.answer(worker, sequence: firstWork.sequence, value: 1)
        #expect(await value(first) == 1)
        #expect(machine.actions.closes.contains { $0 === worker })
        #expect(machine.phase(of: worker).map { if case .closing = $0 { true } else { false } } == true)
        #expect(machine.actions.spawns.count == 1)
        machine.exit(worker, signal: nil, started: nil)
        #expect(machine.state.consecutiveCrashes == 0)
        let replacement = machine.start()
        #expect(machine.sent(to: replacement) == 1)
        #expect(!second.isFinished)
    }

    @Test("an idle worker past the idle timeout is closed, and not replaced until work comes")
    func idleTimeout() {
        var machine = Machine(idleTimeout: .seconds(5))
        machine.event { state, actions, _ in state.ensureWorkers(actions: &actions) }
        let worker = machine.start()
        #expect(machine.tick(worker) == machine.now + 5_000_000_000)
        machine.now += 5_000_000_000
        _ = machine.tick(worker)
        #expect(machine.actions.closes.contains { $0 === worker })
        machine.exit(worker, signal: nil, started: nil)
        #expect(machine.actions.spawns.isEmpty)
        _ = machine.submit(2)
        #expect(machine.actions.spawns.count == 1)
    }

    @Test("the initializer runs first on every worker; jobs follow once it answers")
    func initializer() async {
        var machine = Machine(initializer: Self.initializerWork())
        let (handle, work) = machine.submit(3)
        let worker = machine.start()
        #expect(machine.inFlight.map(\.isInitializer) == [true])
        #expect(machine.phase(of: worker).map { if case .initializing = $0 { true } else { false } } == true)
        machine.event { state, actions, now in
            state.results(worker.id, [IncomingResult(sequence: 0, items: [ReceivedFrame(PoolStateTests.success(0))])], now: now, actions: &actions)
        }
        #expect(machine.sent(to: worker) == 1)
        machine.answer(worker, sequence: work.sequence, value: 9)
        #expect(await value(handle) == 9)
    }

    @Test("a failing initializer kills its worker and fails the queue with workerStartFailed")
    func initializerFailure() async {
        var machine = Machine(initializer: Self.initializerWork())
        let (handle, _) = machine.submit(1)
        let worker = machine.start()
        #expect(machine.sent(to: worker) == 1)
        let remote = RemoteJobError(jobName: "Init", typeName: "Setup", errorDescription: "no database")
        machine.event { state, actions, now in
            state.results(
                worker.id, [IncomingResult(sequence: 0, items: [ReceivedFrame(PoolStateTests.failure("no database"))])],
                initializerFailure: remote, now: now, actions: &actions
            )
        }
        #expect(machine.killed(worker))
        #expect(await code(handle) == .workerStartFailed)
        #expect(await error(handle)?.underlying as? RemoteJobError == remote)
        machine.exit(worker, signal: SIGKILL, started: nil)
        #expect(machine.actions.spawns.isEmpty)
    }

    @Test("a worker that cannot start is retried, and after a permanent failure the queue fails")
    func startFailures() async {
        var machine = Machine()
        let (handle, _) = machine.submit(1)
        let failure = ExecutorError(.workerStartFailed, message: "no such program")
        machine.event { state, actions, _ in state.workerFailedToStart(error: failure, permanent: false, actions: &actions) }
        #expect(machine.actions.spawns == [.milliseconds(50)])
        #expect(!handle.isFinished)
        machine.event { state, actions, _ in state.workerFailedToStart(error: failure, permanent: true, actions: &actions) }
        #expect(await code(handle) == .workerStartFailed)
    }

    @Test("a shutdown lets queued jobs finish, then closes the workers; with cancelling, they fail cancelled")
    func shutdown() async {
        var machine = Machine()
        let (running, runningWork) = machine.submit(1)
        let (queued, queuedWork) = machine.submit(2)
        let worker = machine.start()
        machine.event { state, actions, _ in state.shutdown(cancelPending: false, actions: &actions) }
        #expect(machine.actions.closes.isEmpty)
        machine.answer(worker, sequence: runningWork.sequence, value: 1)
        machine.answer(worker, sequence: queuedWork.sequence, value: 4)
        #expect(await value(running) == 1)
        #expect(await value(queued) == 4)
        #expect(machine.actions.closes.contains { $0 === worker })
        machine.exit(worker, signal: nil, started: nil)
        #expect(machine.state.isStopped)
        #expect(machine.actions.spawns.isEmpty)

        var cancelling = Machine()
        let (busy, _) = cancelling.submit(1)
        let (waiting, _) = cancelling.submit(2)
        _ = cancelling.start()
        let (pending, _) = cancelling.submit(3)
        cancelling.event { state, actions, _ in state.shutdown(cancelPending: true, actions: &actions) }
        #expect(await code(pending) == .shutDown)
        #expect(!busy.isFinished)
        #expect(await code(waiting) == .shutDown)
    }

    @Test("terminating fails every job, signals the workers, and kills those still alive after the grace period")
    func terminate() async {
        var machine = Machine(workers: 2)
        let (running, _) = machine.submit(1)
        let (queued, _) = machine.submit(2)
        let (later, _) = machine.submit(3)
        let worker = machine.start()
        machine.event { state, actions, now in state.terminate(signal: SIGTERM, now: now, actions: &actions) }
        #expect(machine.actions.signals.map(\.1) == [SIGTERM])
        #expect(await code(running) == .cancelled)
        #expect(await code(queued) == .cancelled)
        #expect(await code(later) == .cancelled)
        #expect(machine.tick(worker) == machine.now + 1_000_000_000)
        #expect(!machine.killed(worker))
        machine.now += 1_000_000_000
        _ = machine.tick(worker)
        #expect(machine.killed(worker))
        // A worker that starts after the pool was terminated is killed at once.
        let late = machine.start()
        #expect(machine.killed(late))
        machine.exit(worker, signal: SIGKILL, started: nil)
        machine.exit(late, signal: SIGKILL, started: nil)
        #expect(machine.state.isStopped)
    }

    @Test("an answer out of turn is a protocol violation that kills the worker")
    func outOfTurn() async {
        var machine = Machine()
        let (handle, work) = machine.submit(1)
        let worker = machine.start()
        machine.answer(worker, sequence: work.sequence + 100, value: 1)
        #expect(machine.killed(worker))
        machine.exit(worker, signal: SIGKILL, started: nil)
        #expect(await code(handle) == .protocolViolation)
    }

    private static func initializerWork() -> PoolWork {
        // swiftlint:disable:next force_try
        let encoded = try! JobMessages.single(Square(0), named: Square.jobName, sequence: 0, maxFrameSize: 1 << 20)
        return .initializer(jobName: Square.jobName, encoded: encoded)
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
