#if os(Linux)
import Glibc
import Synchronization
import TriadCore

/// The storage of one ``Process``: its state machine behind a lock, and the supervisor of its single worker. It
/// reuses the pool's worker machinery whole: the spawn thread, the handshake, the no-orphan lifeline, the driver
/// thread that reads results and reaps the child. The job goes out when the handshake arrives, followed by end of
/// stream, so the child exits by itself once it has sent the result.
final class ProcessStorage: WorkerSupervisor {
    private let state: Mutex<ProcessState>
    private let message: OutgoingMessage
    private let launch: WorkerLaunch
    /// Readable once the process has finished, for blocking joins. Closed in deinit.
    private let doneFD: Int32
    /// This process's own copies of the passed descriptors, closed once the child has inherited them.
    private let passed: Mutex<[Int32]>

    init(jobName: String, message: OutgoingMessage, launch: WorkerLaunch) {
        state = Mutex(ProcessState(jobName: jobName))
        self.message = message
        self.launch = launch
        passed = Mutex(launch.passedDescriptors)
        guard case .success(let fd) = Syscall.eventFD() else {
            preconditionFailure("could not create an eventfd: the process is out of descriptors")
        }
        doneFD = fd
    }

    deinit {
        closePassed()
        Syscall.close(doneFD)
    }

    // MARK: - Front-type operations

    func start() {
        state.withLock { $0.start() }
        let launch = self.launch
        SpawnThread.shared.run { [self] in
            WorkerProcess.spawn(id: 1, launch: launch, supervisor: self)
            // The child holds its own copies now (or never will); ours must go, so that the other ends of passed
            // pipes see end of stream when the child exits.
            closePassed()
        }
    }

    func signal(_ signal: Int32) {
        perform(state.withLock { $0.requestSignal(signal) })
    }

    var snapshot: ProcessState { state.withLock { $0 } }

    /// Waits on the calling thread until the process has finished, or `timeout` has passed.
    func waitBlocking(timeout: Duration?) -> Bool {
        precondition(state.withLock { $0.wasStarted }, "join() on a Process that was never started")
        let deadline = timeout.map { $0.deadline(after: Syscall.now()) }
        while !state.withLock({ $0.isFinished }) {
            let now = Syscall.now()
            if let deadline, now >= deadline { return false }
            let wait = deadline.map { Int32(clamping: ($0 - now) / 1_000_000 + 1) } ?? -1
            var fds = [pollfd(fd: doneFD, events: Int16(POLLIN), revents: 0)]
            _ = Syscall.poll(&fds, timeout: wait)
        }
        return true
    }

    /// Suspends until the process has finished, `timeout` has passed or the task is cancelled.
    func wait(timeout: Duration?) async -> Bool {
        precondition(state.withLock { $0.wasStarted }, "join() on a Process that was never started")
        let id = Mutex<UInt64?>(nil)
        let timer = Mutex<Task<Void, Never>?>(nil)
        let finished = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Bool, Never>) in
                guard let joiner = state.withLock({ $0.addJoiner(continuation) }) else {
                    return continuation.resume(returning: true)
                }
                id.withLock { $0 = joiner }
                if Task.isCancelled { return giveUp(joiner) }
                if let timeout {
                    let task = Task { [self] in
                        try? await Task.sleep(for: timeout)
                        giveUp(joiner)
                    }
                    timer.withLock { $0 = task }
                }
            }
        } onCancel: {
            if let joiner = id.withLock({ $0 }) { giveUp(joiner) }
        }
        timer.withLock { $0?.cancel() }
        return finished
    }

    private func giveUp(_ joiner: UInt64) {
        state.withLock { $0.removeJoiner(joiner) }?.resume(returning: false)
    }

    private func closePassed() {
        for fd in passed.withLock({ fds in defer { fds = [] }; return fds }) { Syscall.close(fd) }
    }

    // MARK: - WorkerSupervisor

    func workerDidStart(_ worker: WorkerProcess) {
        perform(state.withLock { $0.workerStarted(worker) })
    }

    func workerDidFailToStart(id: Int, error: ExecutorError, permanent: Bool) {
        perform(state.withLock { $0.workerFailedToStart(error) })
    }

    func worker(_ worker: WorkerProcess, didReceive results: [IncomingResult]) -> TickAfterResults {
        // Kept past this call, so out of the worker's lane.
        let output = results.first?.items.first?.owned
        state.withLock { $0.received(output) }
        return .tickNow
    }

    func workerWatchesTimers(_ worker: WorkerProcess) -> Bool { false }

    func workerWantsSpinning(_ worker: WorkerProcess) -> Bool {
        state.withLock { $0.expectsResult }
    }

    func workerTick(_ worker: WorkerProcess, now: UInt64) -> UInt64? { nil }

    func worker(
        _ worker: WorkerProcess, didExit exit: WorkerExit, violation: ExecutorError?, lastStarted: StartedJob?
    ) {
        perform(state.withLock { $0.workerExited(exit, violation: violation) })
    }

    private func perform(_ effects: ProcessState.Effects) {
        if let (worker, signal) = effects.signal { worker.signal(signal) }
        if let worker = effects.sendJob {
            worker.send(message)
            worker.closeWhenFlushed()
        }
        if effects.finished { Syscall.signalEventFD(doneFD) }
        for continuation in effects.resumes { continuation.resume(returning: true) }
    }
}

extension WorkerLaunch {
    /// The launch settings of a worker described by `configuration`: its program, and an environment that is the
    /// parent's, plus the worker markers, plus `SWIFT_BACKTRACE=enable=no` unless backtraces are asked for. The
    /// spawn adds the list of passed descriptors.
    init(configuration: ProcessPoolConfiguration, passing descriptors: [Int32] = []) {
        var environment = ProcessEnvironment.current()
        if !configuration.workerBacktraces { environment["SWIFT_BACKTRACE"] = "enable=no" }
        for (key, value) in configuration.environment { environment[key] = value }
        environment[WorkerEnvironment.parentPIDKey] = String(getpid())
        environment[WorkerEnvironment.maxFrameKey] = String(configuration.maxFrameSize)
        let schedule = configuration.idleStrategy.schedule
        environment[IdleSchedule.environmentKey] = "\(schedule.spinNanos),\(schedule.yieldNanos)"
        self.init(
            path: configuration.executable.path,
            arguments: configuration.executable.arguments,
            environment: environment.map { "\($0.key)=\($0.value)" },
            maxPayload: configuration.maxFrameSize,
            handshakeTimeout: configuration.handshakeTimeout,
            passedDescriptors: descriptors,
            sharedPayloadThreshold: configuration.sharedPayloadThreshold,
            idle: schedule,
            ringCapacity: configuration.effectiveRingCapacity
        )
    }
}
#endif
