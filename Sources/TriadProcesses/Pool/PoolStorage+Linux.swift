#if os(Linux)
import CTriadShims
import CoreMetrics
import Glibc
import Logging
import Synchronization
import TriadCore

/// The pool's storage: its state machine behind one lock, the launch settings, and the supervisor callbacks of its
/// workers. Effects of a state change (sends, signals, deliveries, spawns) run after the lock is released.
final class PoolStorage: WorkerSupervisor, PoolWorkQueue {
    let registry: JobRegistry
    let configuration: ProcessPoolConfiguration
    private let launch: WorkerLaunch
    private let logger: Logger
    /// Where the pool reports its metrics; nil when it reports none.
    let metrics: PoolMetrics?
    private let state: Mutex<PoolState<WorkerProcess>>
    private let sequences = Atomic<UInt64>(0)
    /// Jobs submitted while every worker was busy, waiting for the next state change to take them in.
    private let inbox = Mutex(Inbox())
    /// The templates of the job types submitted so far that the registry holds, by type. They stay for as long as
    /// the pool's front, which alone looks them up, so that ``lastRegistered`` may point at one without holding it.
    private let registeredJobs = Mutex<[ObjectIdentifier: SingleJobTemplate]>([:])
    /// The template of the job type submitted last, read without a lock: a program most often submits many jobs of
    /// one type in a row, and then finds its template without the lock and the hashing of ``registeredJobs``.
    /// (Its address as a number, 0 for none: a pointer is not `Sendable`.)
    private let lastRegistered = Atomic<UInt>(0)
    /// The started workers, for threads that assist while they block waiting for a job: apart from the state, so
    /// that an assist never takes the pool's lock.
    private let started = Mutex<[WorkerProcess]>([])
    /// Whether a job with a time limit of its own was ever submitted: until then, and with no default limit or
    /// memory limit, no driver has timers to watch, which a blocking waiter's assist then learns without the lock.
    private let timedJobsSubmitted = Atomic<Bool>(false)
    /// How long a task about to suspend for a job reads results first (`IdleStrategy.awaitAssist`).
    private let awaitAssistNanos: UInt64
    /// Whether the drivers spin or yield before they park (see ``assistAwaiter(until:)``).
    private let driversIdleBeforeParking: Bool
    /// How the last such assists went, which decides whether the next one is made (see ``AwaitAssistPolicy``);
    /// internal, so that tests can wait on its counts.
    let awaitAssistPolicy = Mutex(AwaitAssistPolicy())

    init(configuration: ProcessPoolConfiguration, registry: JobRegistry) {
        self.configuration = configuration
        self.registry = registry
        var logger = configuration.logger
        logger[metadataKey: "pool"] = "\(configuration.name)"
        self.logger = logger
        metrics = PoolMetrics.make(configuration)
        awaitAssistNanos = configuration.idleStrategy.awaitAssistNanos
        let schedule = configuration.idleStrategy.schedule
        driversIdleBeforeParking = schedule.spinNanos > 0 || schedule.yieldNanos > 0
        launch = WorkerLaunch(configuration: configuration)
        var initializer: PoolWork?
        if let job = configuration.initializer {
            initializer = PoolStorage.initializerWork(job, maxFrameSize: configuration.maxFrameSize)
        }
        state = Mutex(
            PoolState(
                workers: configuration.workers,
                pipelineDepth: max(2, configuration.pipelineDepth),
                batchesQuickJobs: configuration.batchesQuickJobs,
                crashRetries: max(0, configuration.crashRetries),
                maxJobsPerWorker: configuration.maxJobsPerWorker.map { max(1, $0) },
                idleTimeout: configuration.idleTimeout?.saturatingNanoseconds,
                memoryLimit: configuration.memoryLimitPerWorker,
                defaultTimeout: configuration.defaultTimeout,
                grace: configuration.terminationGracePeriod.saturatingNanoseconds,
                initializer: initializer
            )
        )
        let batchQuickJobNanos = Double(configuration.batchQuickJobThreshold.saturatingNanoseconds)
        state.withLock { state in
            state.measures = metrics != nil
            state.batchQuickJobNanos = batchQuickJobNanos
        }
    }

    private static func initializerWork<J: Job>(_ job: J, maxFrameSize: Int) -> PoolWork? {
        guard let encoded = try? JobMessages.single(job, named: J.jobName, sequence: 0, maxFrameSize: maxFrameSize)
        else { return nil }
        return .initializer(jobName: J.jobName, encoded: encoded)
    }

    // MARK: - Front-type operations

    func start() {
        mutate { state, actions, _ in state.ensureWorkers(actions: &actions) }
    }

    /// The template of single jobs of `J` (its name, header, codec plan, handle class and shared sink), if the
    /// registry holds it, else nil.
    func registeredJob<J: Job>(of type: J.Type) -> SingleJobTemplate? {
        let key = ObjectIdentifier(type)
        if let last = UnsafeRawPointer(bitPattern: lastRegistered.load(ordering: .acquiring)) {
            // Safe without a retain of its own: the template is one of `registeredJobs`, which keeps it.
            let template = Unmanaged<SingleJobTemplate>.fromOpaque(last).takeUnretainedValue()
            if ObjectIdentifier(template.jobType) == key { return template }
        }
        let template: SingleJobTemplate
        if let known = registeredJobs.withLock({ $0[key] }) {
            template = known
        } else {
            let name = J.jobName
            guard registry.contains(jobName: name) else { return nil }
            let made = SingleJobTemplate(of: J.self, jobName: name, registry: registry, metrics: metrics, owner: self)
            // Of two threads registering one type at once, the first template stays, so pointers to it stay valid.
            template = registeredJobs.withLock { templates in
                if let first = templates[key] { return first }
                templates[key] = made
                return made
            }
        }
        lastRegistered.store(UInt(bitPattern: Unmanaged.passUnretained(template).toOpaque()), ordering: .releasing)
        return template
    }

    /// Lets go of the single jobs' templates, whose sinks hold the storage: called when the pool's front goes,
    /// when nothing can look a template up any more, so that the storage is freed once its last handle resolves and
    /// its last driver ends.
    func forgetTemplates() {
        lastRegistered.store(0, ordering: .releasing)
        let templates = registeredJobs.withLock { templates in
            defer { templates = [:] }
            return templates
        }
        // Released after the lock: the last release of a sink may run its deinit.
        _ = consume templates
    }

    func nextSequence() -> UInt64 {
        sequences.add(1, ordering: .relaxed).newValue
    }

    func enqueue(_ work: consuming PoolWork) throws(ExecutorError) {
        let jobName = work.jobName
        metrics?.job(jobName).submitted.increment(by: work.itemCount)
        if work.timeout != nil, !timedJobsSubmitted.load(ordering: .relaxed) {
            timedJobsSubmitted.store(true, ordering: .relaxed)
        }
        // While every worker is busy, a new job only needs to wait its turn: it goes into the inbox, which the next
        // state change (a result, most often) empties into the queue. The submitting thread then never contends
        // with the drivers for the state's lock, which they take for every batch of results. The work moves, into
        // the inbox or the state, without a copy.
        var pending = Optional(consume work)
        let queued = inbox.withLock { inbox in
            guard inbox.acceptsQuietly else { return false }
            inbox.works.append(pending.take()!)
            return true
        }
        if queued { return }
        let accepted = mutate { state, actions, now in
            guard !state.shuttingDown else { return false }
            state.submit(pending.take()!, now: now, actions: &actions)
            return true
        }
        guard accepted else { throw ExecutorError.shutDown(jobName: jobName) }
    }

    /// Cancels the jobs of the handle that came with the message `root`.
    func cancel(root: UInt64) {
        mutate { state, actions, _ in state.cancel(root: root, started: { $0.startedJob }, actions: &actions) }
    }

    func shutdown(wait: Bool, cancelPending: Bool) async {
        mutate { state, actions, _ in state.shutdown(cancelPending: cancelPending, actions: &actions) }
        if wait { await waitUntilStopped() }
    }

    func terminate(signal: Int32) async {
        mutate { state, actions, now in state.terminate(signal: signal, now: now, actions: &actions) }
        await waitUntilStopped()
    }

    /// Kills every worker without waiting, for a pool dropped without a shutdown or a process about to exit.
    func killNow() {
        mutate { state, actions, now in state.terminate(signal: SIGKILL, now: now, actions: &actions) }
    }

    private func waitUntilStopped() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let stopped = state.withLock { state in
                if state.isStopped { return true }
                state.shutdownWaiters.append(continuation)
                return false
            }
            if stopped { continuation.resume() }
        }
    }

    var workerPIDs: [Int32] {
        state.withLock { state in state.slots.map { $0.worker.pid }.sorted() }
    }

    var isShutDown: Bool { state.withLock { $0.shuttingDown } }

    var batchesSent: Int { state.withLock { $0.batchesSent } }

    /// The wait assist of a single job's handle (see `JobController.beginWaitAssist()`): while it lasts, the
    /// calling thread reads the results of every started worker with work in flight (see
    /// ``workersWithWorkInFlight()``) that no other thread is reading, so that a thread blocked on the handle gets its
    /// result without a hand-off from a driver thread, and the drivers are not rung for them.
    ///
    /// A driver learns of the results its waiter read only when they leave a time limit or memory to watch (see
    /// `WorkerProcess.assist(supervisor:)`); with an idle timeout, a worker left idle by them must be closed on time
    /// too, and its driver may have parked with no timer while the worker was busy. So a pool with an idle timeout
    /// wakes its drivers once each session ends, to look at their timers.
    func assistWaiter() -> WaitAssistSession? {
        let workers = workersWithWorkInFlight()
        var sharesCPU = false
        for worker in workers where worker.beginAssist() { sharesCPU = true }
        return WaitAssistSession(
            poll: { self.assist(workers) },
            end: { self.endAssist(workers) },
            pauses: !sharesCPU
        )
    }

    /// The assist of a task about to suspend for a single job's handle (see
    /// `JobController.assistBeforeSuspending(until:)`): the same reading as ``assistWaiter()``'s, for
    /// `IdleStrategy.awaitAssist` at most, and only while such assists bring results (see ``AwaitAssistPolicy``).
    ///
    /// It reads only the workers whose results no other thread is reading (a driver delivering a batch, most
    /// often: those results are on their way, and a task must not wait for the lock), and at most
    /// ``awaitAssistBytesPerPass`` of each per look, so that a look stays short; a driver is woken for what a look
    /// leaves. Between looks it pauses the CPU, then yields it, as a thread blocked in `wait()` does
    /// (`WaitAssistSession.pausesCPU(after:mayPause:)`); but it yields from the start when a worker it reads runs on
    /// its CPU, which a pause would keep from the worker (pausing throughout, the awaited round trip varied between 4
    /// and 20 µs across runs, as the scheduler put the two threads on one CPU or on two; yielding throughout, it took
    /// 5.8 µs at the median of 200 blocks of a thousand, and 5.6 µs this way, 4.1 µs against 4.7 at the first
    /// quartile). An assist that
    /// ends without its result wakes the drivers, which parked while it read: they take up their own idle schedule
    /// again, and catch a result that comes soon after without a wake-up. The deliveries it makes run outside the
    /// task's `ServiceContext`, as a driver's do: the next chunks of another caller's map, which they may submit,
    /// must not join this task's trace.
    func assistAwaiter(until finished: () -> Bool) {
        guard awaitAssistNanos > 0, awaitAssistPolicy.withLock({ $0.admits() }) else { return }
        var workers = workersWithWorkInFlight()
        guard !workers.isEmpty else { return }
        var sharesCPU = false
        workers.removeAll { worker in
            guard let shares = worker.tryBeginAssist() else { return true }
            sharesCPU = sharesCPU || shares
            return false
        }
        guard !workers.isEmpty else {
            awaitAssistPolicy.withLock { $0.recordBusy() }
            return
        }
        let start = triad_monotonic_ns()
        let broughtOutcome = JobTracing.outsideCallerContext { () -> Bool in
            while true {
                assist(workers, maxBytes: Self.awaitAssistBytesPerPass)
                if finished() { return true }
                let elapsed = triad_monotonic_ns() &- start
                if elapsed >= awaitAssistNanos { return false }
                if WaitAssistSession.pausesCPU(after: elapsed, mayPause: !sharesCPU) {
                    triad_cpu_relax()
                } else {
                    sched_yield()
                }
            }
        }
        endAssist(workers, wakingDrivers: !broughtOutcome && driversIdleBeforeParking)
        awaitAssistPolicy.withLock { $0.record(broughtOutcome: broughtOutcome) }
    }

    /// The most bytes of one worker's results an awaiting task reads per look (see ``assistAwaiter(until:)``):
    /// hundreds of tiny results.
    static let awaitAssistBytesPerPass = 16 << 10

    /// The started workers that have work in flight (see `WorkerProcess.hasWorkInFlight`): only they can bring a
    /// pending job's result, so only they are worth an assist's looks. An idle worker's result ring would be read
    /// for nothing, and its flags lowered and raised, by every awaiting task: in a pool of 16 workers with one
    /// job at a time, that put the awaited round trip at 9.3 µs against 6.5 µs for a pool of one.
    func workersWithWorkInFlight() -> [WorkerProcess] {
        started.withLock { started in started.filter { $0.hasWorkInFlight } }
    }

    private func assist(_ workers: [WorkerProcess], maxBytes: Int = WorkerProcess.maxBytesPerPass) {
        for worker in workers { worker.assist(supervisor: self, maxBytes: maxBytes) }
    }

    private func endAssist(_ workers: [WorkerProcess], wakingDrivers: Bool = false) {
        let wakes = wakingDrivers || configuration.idleTimeout != nil
        for worker in workers {
            worker.endAssist()
            if wakes { worker.wake() }
        }
    }

    // MARK: - WorkerSupervisor

    func workerDidStart(_ worker: WorkerProcess) {
        logger.debug("worker started", metadata: ["worker.pid": "\(worker.pid)"])
        started.withLock { $0.append(worker) }
        mutate { state, actions, now in state.workerStarted(worker, now: now, actions: &actions) }
    }

    func workerDidFailToStart(id: Int, error: ExecutorError, permanent: Bool) {
        logger.warning(
            "a worker could not start: \(error.message)",
            metadata: ["code": "\(error.code)", "permanent": "\(permanent)"]
        )
        mutate { state, actions, _ in state.workerFailedToStart(error: error, permanent: permanent, actions: &actions) }
    }

    func worker(_ worker: WorkerProcess, didReceive results: [IncomingResult]) -> TickAfterResults {
        // The initializer's answer (sequence 0) is decoded here when it is a failure, so the state decodes nothing.
        let initializerFailure = results.lazy.filter { $0.sequence == 0 }.compactMap { result -> RemoteJobError? in
            guard let item = result.items.first, item.flags == ResultFlag.failure else { return nil }
            let wire = JobMessages.remoteWireError(item)
            return RemoteJobError(
                jobName: self.configuration.initializer.map { type(of: $0).jobName } ?? "initializer",
                typeName: wire?.typeName ?? "unknown",
                errorDescription: wire?.description ?? "an unreadable error"
            )
        }.first
        // The tick that follows results is worked out under the same lock, but where it needs the worker's
        // resident memory, which is read outside the lock (see `workerTick(_:now:)`).
        let watchesMemory = configuration.memoryLimitPerWorker != nil
        return mutate { state, actions, now in
            state.results(worker.id, results, initializerFailure: initializerFailure, now: now, actions: &actions)
            let busy = state.hasWorkInFlight(worker.id)
            worker.noteWorkInFlight(busy)
            guard !watchesMemory else { return .tickNow }
            let started = busy ? worker.startedJob : nil
            return .next(state.tick(worker.id, now: now, resident: nil, started: started, actions: &actions))
        }
    }

    func workerWatchesTimers(_ worker: WorkerProcess) -> Bool {
        if configuration.defaultTimeout == nil, configuration.memoryLimitPerWorker == nil,
            !timedJobsSubmitted.load(ordering: .relaxed)
        {
            return false
        }
        return state.withLock { $0.watchesTimers(worker.id) }
    }

    func workerWantsSpinning(_ worker: WorkerProcess) -> Bool {
        // Spin for a lone job, where latency matters, and while none is in flight, in case the program submits the
        // next at once. With many in flight, results come in batches, and on a small machine a spinning driver
        // would take the CPU from the workers that produce them.
        state.withLock { state in state.slotIndex(of: worker.id).map { state.slots[$0].inFlight.count <= 1 } ?? false }
    }

    func workerTick(_ worker: WorkerProcess, now: UInt64) -> UInt64? {
        let busy = state.withLock { $0.hasWorkInFlight(worker.id) }
        let resident = configuration.memoryLimitPerWorker != nil && busy ? Syscall.residentBytes(of: worker.pid) : nil
        let started = busy ? worker.startedJob : nil
        return mutate { state, actions, now in
            state.tick(worker.id, now: now, resident: resident, started: started, actions: &actions)
        }
    }

    func worker(
        _ worker: WorkerProcess, didExit exit: WorkerExit, violation: ExecutorError?, lastStarted: StartedJob?
    ) {
        started.withLock { $0.removeAll { $0 === worker } }
        mutate { state, actions, now in
            state.workerExited(
                worker.id,
                exit: exit,
                violation: violation,
                lastStarted: lastStarted,
                tracksProgress: worker.tracksProgress,
                now: now,
                actions: &actions
            )
        }
    }

    // MARK: - Actions

    @discardableResult
    private func mutate<R: Sendable>(_ body: (inout PoolState<WorkerProcess>, inout PoolActions<WorkerProcess>, UInt64) -> R) -> R {
        var actions = PoolActions<WorkerProcess>()
        let now = Syscall.now()
        let result = state.withLock { state in
            takeInbox(into: &state, now: now, actions: &actions)
            let result = body(&state, &actions, now)
            // Under the lock, so that the workers' flags change in the state's order: a worker sent work has work
            // in flight (a worker whose results emptied it is told by `worker(_:didReceive:)`).
            for index in actions.sends.indices { actions.sends[index].0.noteWorkInFlight(true) }
            // Before the lock goes: tell submitters whether they may queue quietly, once the inbox is empty.
            while true {
                let quietly = state.acceptsQuietly
                let done = inbox.withLock { inbox in
                    guard inbox.works.isEmpty else { return false }
                    inbox.acceptsQuietly = quietly
                    return true
                }
                if done { break }
                takeInbox(into: &state, now: now, actions: &actions)
            }
            if let metrics {
                metrics.queueDepth.record(state.queue.count)
                metrics.inFlight.record(state.slots.reduce(0) { $0 + $1.inFlight.count })
                metrics.liveWorkers?.record(state.liveCount)
            }
            return result
        }
        perform(actions)
        return result
    }

    /// Moves the jobs of the inbox into the state's queue, as if they were submitted now.
    private func takeInbox(
        into state: inout PoolState<WorkerProcess>,
        now: UInt64,
        actions: inout PoolActions<WorkerProcess>
    ) {
        // The works are swapped out whole for the spare storage, and each moves into the queue without a copy;
        // their storage, emptied, becomes the spare again, so that the inbox allocates nothing while it is used.
        var works = inbox.withLock { inbox -> FIFO<PoolWork> in
            guard !inbox.works.isEmpty else { return FIFO() }
            var taken = FIFO<PoolWork>()
            swap(&taken, &inbox.spare)
            swap(&taken, &inbox.works)
            return taken
        }
        if works.isEmpty { return }
        // A local function, not a closure, so that the work can be consumed into the state without a copy.
        func take(_ work: consuming PoolWork) {
            if state.shuttingDown {
                // Submitted while this state change shut the pool down: refused, as a later submit would be.
                _ = work.sink?.fail(ExecutorError.shutDown(jobName: work.jobName), jobs: 0..<work.itemCount)
            } else {
                state.submit(consume work, now: now, actions: &actions)
            }
        }
        works.drain(take)
        inbox.withLock { swap(&$0.spare, &works) }
    }

    /// Carries out what a state change asked for, outside the lock: the workers' part first, then the handles'.
    private func perform(_ actions: PoolActions<WorkerProcess>) {
        for (worker, signal) in actions.signals { worker.signal(signal) }
        for (worker, message) in actions.sends { worker.send(message) }
        for worker in actions.closes { worker.closeWhenFlushed() }
        for worker in actions.wakes { worker.wake() }
        for delay in actions.spawns {
            let id = state.withLock { state in
                defer { state.nextWorkerID += 1 }
                return state.nextWorkerID
            }
            let launch = self.launch
            SpawnThread.shared.run(after: delay) { [self] in
                WorkerProcess.spawn(id: id, launch: launch, supervisor: self)
            }
        }
        for event in actions.events { log(event) }
        if let metrics { record(actions, in: metrics) }
        if logger.logLevel <= .debug {
            for failure in actions.failures {
                guard let error = failure.error as? ExecutorError else { continue }
                logger.debug(
                    "job failed: \(error.message)",
                    metadata: ["job": "\(error.jobName ?? "?")", "code": "\(error.code)", "jobs": "\(failure.jobs.count)"]
                )
            }
        }
        // A process ending by a signal resolves no handle: see `ProcessPool.installSignalHandlers()`.
        guard !SignalShutdown.isDying else { return }
        let abandoned = actions.resolveJobs()
        for continuation in actions.resumes { continuation.resume() }
        if !abandoned.isEmpty { mutate { state, _, _ in state.abandon(roots: abandoned) } }
    }
}

extension PoolStorage {
    /// Reports what a state change measured: waits, run times, and workers that must be replaced.
    private func record(_ actions: PoolActions<WorkerProcess>, in metrics: PoolMetrics) {
        for wait in actions.waits { metrics.job(wait.jobName).wait.recordNanoseconds(Int64(clamping: wait.nanoseconds)) }
        for run in actions.runs { metrics.job(run.jobName).run.recordNanoseconds(Int64(clamping: run.nanoseconds)) }
        for event in actions.events {
            guard case .workerEnded(_, _, let reason, _, let crashed) = event else { continue }
            if crashed || (reason != nil && reason != KillReason.terminated.summary) { metrics.restarts?.increment() }
        }
    }

    private func log(_ event: PoolEvent) {
        switch event {
        case .workerEnded(let pid, let exit, let reason, let job, let crashed):
            var metadata: Logger.Metadata = ["worker.pid": "\(pid)", "exit": "\(exit)"]
            if let job { metadata["job"] = "\(job)" }
            if crashed {
                metadata["code"] = "\(ExecutorError.Code.workerCrashed)"
                if !exit.lastOutput.isEmpty { metadata["stderr"] = "\(exit.lastOutput)" }
                logger.warning("a worker crashed; the pool replaces it", metadata: metadata)
            } else if let reason, reason != KillReason.terminated.summary {
                logger.notice("the pool killed a worker: \(reason)", metadata: metadata)
            } else {
                logger.debug("a worker ended", metadata: metadata)
            }
        case .respawnDelayed(let delay, let crashes):
            logger.notice(
                "workers keep crashing; the next one starts after \(delay)",
                metadata: ["crashes": "\(crashes)"]
            )
        case .draining(let queued, let inFlight, let cancelPending):
            logger.notice(
                "shutting down: \(cancelPending ? "cancelling" : "finishing") \(queued) queued messages, finishing \(inFlight) in flight",
                metadata: ["queued": "\(queued)", "inFlight": "\(inFlight)", "cancelPending": "\(cancelPending)"]
            )
        }
    }
}

/// Jobs submitted while every worker was busy, and whether submitters may still queue that way.
private struct Inbox {
    var works = FIFO<PoolWork>()
    /// The storage the next works go into once these are taken.
    var spare = FIFO<PoolWork>()
    /// Set by the state under its lock: true only while a new job would just wait in the queue anyway.
    var acceptsQuietly = false
}

/// The parent's environment, read once per pool.
enum ProcessEnvironment {
    static func current() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
#endif
