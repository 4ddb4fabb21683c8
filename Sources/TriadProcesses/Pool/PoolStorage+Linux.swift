#if os(Linux)
import Glibc
import Synchronization
import TriadCore

/// The pool's storage: its state machine behind one lock, the launch settings, and the supervisor callbacks of its
/// workers. Effects of a state change (sends, signals, deliveries, spawns) run after the lock is released.
final class PoolStorage: WorkerSupervisor {
    let registry: JobRegistry
    let configuration: ProcessPoolConfiguration
    private let launch: WorkerLaunch
    private let state: Mutex<PoolState<WorkerProcess>>
    private let sequences = Atomic<UInt64>(0)
    /// Jobs submitted while every worker was busy, waiting for the next state change to take them in.
    private let inbox = Mutex(Inbox())
    /// The names of the job types submitted so far that the registry holds, by type: one lookup per submit.
    private let registeredNames = Mutex<[ObjectIdentifier: String]>([:])

    init(configuration: ProcessPoolConfiguration, registry: JobRegistry) {
        self.configuration = configuration
        self.registry = registry
        var environment = ProcessEnvironment.current()
        if !configuration.workerBacktraces { environment["SWIFT_BACKTRACE"] = "enable=no" }
        for (key, value) in configuration.environment { environment[key] = value }
        environment[WorkerEnvironment.parentPIDKey] = String(getpid())
        environment[WorkerEnvironment.maxFrameKey] = String(configuration.maxFrameSize)
        launch = WorkerLaunch(
            path: configuration.executable.path,
            arguments: configuration.executable.arguments,
            environment: environment.map { "\($0.key)=\($0.value)" },
            maxPayload: configuration.maxFrameSize,
            handshakeTimeout: configuration.handshakeTimeout,
            sharedPayloadThreshold: configuration.sharedPayloadThreshold
        )
        var initializer: (@Sendable () -> PoolEntry)?
        if let job = configuration.initializer {
            initializer = PoolStorage.initializerEntry(job, maxFrameSize: configuration.maxFrameSize)
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
    }

    private static func initializerEntry<J: Job>(_ job: J, maxFrameSize: Int) -> (@Sendable () -> PoolEntry)? {
        let name = J.jobName
        guard
            let message = try? PoolEntry.encodedMessage(
                for: job,
                named: name,
                sequence: 0,
                maxFrameSize: maxFrameSize
            ).message
        else { return nil }
        return {
            PoolEntry(sequence: 0, jobName: name, message: message, itemCount: 1, timeout: nil, isInitializer: true)
        }
    }

    // MARK: - Front-type operations

    func start() {
        mutate { state, effects, _ in state.ensureWorkers(effects: &effects) }
    }

    /// The job name of `J` if the registry holds it, else nil.
    func registeredName<J: Job>(of type: J.Type) -> String? {
        let key = ObjectIdentifier(type)
        if let name = registeredNames.withLock({ $0[key] }) { return name }
        let name = J.jobName
        guard registry.contains(jobName: name) else { return nil }
        registeredNames.withLock { $0[key] = name }
        return name
    }

    func nextSequence() -> UInt64 {
        sequences.add(1, ordering: .relaxed).newValue
    }

    func enqueue(_ entry: PoolEntry) throws(ExecutorError) {
        // While every worker is busy, a new job only needs to wait its turn: it goes into the inbox, which the next
        // state change (a result, most often) empties into the queue. The submitting thread then never contends
        // with the drivers for the state's lock, which they take for every batch of results.
        let queued = inbox.withLock { inbox in
            guard inbox.acceptsQuietly else { return false }
            inbox.entries.append(entry)
            return true
        }
        if queued { return }
        let accepted = mutate { state, effects, now in
            guard !state.shuttingDown else { return false }
            state.submit(entry, now: now, effects: &effects)
            return true
        }
        guard accepted else { throw ExecutorError.shutDown(jobName: entry.jobName) }
    }

    func cancel(_ entry: PoolEntry) {
        mutate { state, effects, _ in
            let workers = state.slots.mapValues(\.worker)
            state.cancel(entry, started: { id in workers[id]?.startedJob }, effects: &effects)
        }
    }

    func shutdown(wait: Bool, cancelPending: Bool) async {
        mutate { state, effects, _ in state.shutdown(cancelPending: cancelPending, effects: &effects) }
        if wait { await waitUntilStopped() }
    }

    func terminate(signal: Int32) async {
        mutate { state, effects, now in state.terminate(signal: signal, now: now, effects: &effects) }
        await waitUntilStopped()
    }

    /// Kills every worker without waiting, for a pool dropped without a shutdown or a process about to exit.
    func killNow() {
        mutate { state, effects, now in state.terminate(signal: SIGKILL, now: now, effects: &effects) }
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
        state.withLock { state in state.slots.values.map { $0.worker.pid }.sorted() }
    }

    var isShutDown: Bool { state.withLock { $0.shuttingDown } }

    var batchesSent: Int { state.withLock { $0.batchesSent } }

    // MARK: - WorkerSupervisor

    func workerDidStart(_ worker: WorkerProcess) {
        debugLog("worker \(worker.id) pid \(worker.pid) started")
        mutate { state, effects, now in state.workerStarted(worker, now: now, effects: &effects) }
    }

    func workerDidFailToStart(id: Int, error: ExecutorError, permanent: Bool) {
        debugLog("worker \(id) failed to start: \(error) permanent \(permanent)")
        mutate { state, effects, _ in state.workerFailedToStart(error: error, permanent: permanent, effects: &effects) }
    }

    func worker(_ worker: WorkerProcess, didReceive results: [IncomingResult]) {
        mutate { state, effects, now in state.results(worker.id, results, now: now, effects: &effects) }
    }

    func workerExpectsResults(_ worker: WorkerProcess) -> Bool {
        // Spin only for a lone job, where latency matters. With many in flight, results come in batches, and on a
        // small machine a spinning driver would take the CPU from the workers that produce them.
        state.withLock { state in state.slots[worker.id]?.inFlight.count == 1 }
    }

    func workerTick(_ worker: WorkerProcess, now: UInt64) -> UInt64? {
        let busy = state.withLock { state in !(state.slots[worker.id]?.inFlight.isEmpty ?? true) }
        let resident = configuration.memoryLimitPerWorker != nil && busy ? Syscall.residentBytes(of: worker.pid) : nil
        let started = busy ? worker.startedJob : nil
        return mutate { state, effects, now in
            state.tick(worker.id, now: now, resident: resident, started: started, effects: &effects)
        }
    }

    func worker(
        _ worker: WorkerProcess, didExit exit: WorkerExit, violation: ExecutorError?, lastStarted: StartedJob?
    ) {
        debugLog("worker \(worker.id) \(exit) violation \(String(describing: violation))")
        mutate { state, effects, now in
            state.workerExited(
                worker.id,
                exit: exit,
                violation: violation,
                lastStarted: lastStarted,
                tracksProgress: worker.tracksProgress,
                now: now,
                effects: &effects
            )
        }
    }

    // MARK: - Effects

    @discardableResult
    private func mutate<R>(_ body: (inout PoolState<WorkerProcess>, inout PoolEffects<WorkerProcess>, UInt64) -> R) -> R {
        var effects = PoolEffects<WorkerProcess>()
        let now = Syscall.now()
        let result = state.withLock { state in
            takeInbox(into: &state, now: now, effects: &effects)
            let result = body(&state, &effects, now)
            // Before the lock goes: tell submitters whether they may queue quietly, once the inbox is empty.
            while true {
                let quietly = state.acceptsQuietly
                let done = inbox.withLock { inbox in
                    guard inbox.entries.isEmpty else { return false }
                    inbox.acceptsQuietly = quietly
                    return true
                }
                if done { break }
                takeInbox(into: &state, now: now, effects: &effects)
            }
            return result
        }
        perform(effects)
        return result
    }

    /// Moves the jobs of the inbox into the state's queue, as if they were submitted now.
    private func takeInbox(
        into state: inout PoolState<WorkerProcess>,
        now: UInt64,
        effects: inout PoolEffects<WorkerProcess>
    ) {
        let entries = inbox.withLock { inbox in
            defer { inbox.entries.removeAll(keepingCapacity: true) }
            return inbox.entries
        }
        for entry in entries {
            if state.shuttingDown {
                // Submitted while this state change shut the pool down: refused, as a later submit would be.
                effects.failures.append((entry, ExecutorError.shutDown(jobName: entry.jobName)))
            } else {
                state.submit(entry, now: now, effects: &effects)
            }
        }
    }

    private func perform(_ effects: PoolEffects<WorkerProcess>) {
        for (worker, signal) in effects.signals { worker.signal(signal) }
        for (worker, message) in effects.sends { worker.send(message) }
        for worker in effects.closes { worker.closeWhenFlushed() }
        for worker in effects.wakes { worker.wake() }
        for delay in effects.spawns {
            let id = state.withLock { state in
                defer { state.nextWorkerID += 1 }
                return state.nextWorkerID
            }
            let launch = self.launch
            SpawnThread.shared.run(after: delay) { [self] in
                WorkerProcess.spawn(id: id, launch: launch, supervisor: self)
            }
        }
        // A process ending by a signal resolves no handle: see `ProcessPool.installSignalHandlers()`.
        guard !SignalShutdown.isDying else { return }
        for delivery in effects.deliveries {
            delivery.entry.deliver(delivery.items, first: delivery.first, count: delivery.count)
        }
        for (entry, error) in effects.failures { entry.fail(error) }
        for continuation in effects.resumes { continuation.resume() }
    }
}

/// Jobs submitted while every worker was busy, and whether submitters may still queue that way.
private struct Inbox {
    var entries: [PoolEntry] = []
    /// Set by the state under its lock: true only while a new job would just wait in the queue anyway.
    var acceptsQuietly = false
}

private let debugging = getenv("TRIAD_POOL_DEBUG") != nil

func debugLog(_ message: @autoclosure () -> String) {
    guard debugging else { return }
    let text = "triad pool \(getpid()): \(message())\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
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
