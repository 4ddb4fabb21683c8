#if os(Linux)
import Glibc
import TriadCore

/// The life of one ``Process``: a pure state machine, driven by its storage under a lock. Each event returns the
/// effects to run once the lock is released.
struct ProcessState: Sendable {
    enum Phase: Sendable {
        /// Made, not started.
        case created
        /// `start` was called; the child is being spawned or has not answered its handshake yet.
        case starting
        /// The child answered its handshake and has its job.
        case running(WorkerProcess)
        /// The child has been reaped, or never started.
        case finished
    }

    /// What the storage must do after an event.
    struct Effects {
        var sendJob: WorkerProcess?
        var signal: (WorkerProcess, Int32)?
        var finished = false
        var resumes: [UnsafeContinuation<Bool, Never>] = []
    }

    let jobName: String
    private(set) var phase = Phase.created
    private(set) var pid: Int32?
    private(set) var exit: WorkerExit?
    /// The job's result item (an output or an error frame), or the error that ended the process without one.
    private(set) var outcome: Result<Frame, ExecutorError>?
    /// The signal `terminate` or `kill` asked for, if any: it turns a death without a result into a cancellation.
    private(set) var requestedSignal: Int32?
    private var joiners: [UInt64: UnsafeContinuation<Bool, Never>] = [:]
    private var nextJoiner: UInt64 = 0

    init(jobName: String) {
        self.jobName = jobName
    }

    var isAlive: Bool {
        switch phase {
        case .starting, .running: true
        case .created, .finished: false
        }
    }

    var isFinished: Bool {
        if case .finished = phase { return true }
        return false
    }

    var wasStarted: Bool {
        if case .created = phase { return false }
        return true
    }

    // MARK: - Calls of the front type

    mutating func start() {
        precondition(!wasStarted, "a Process can be started only once; make a new Process to run the job again")
        phase = .starting
    }

    mutating func requestSignal(_ signal: Int32) -> Effects {
        precondition(wasStarted, "terminate() or kill() on a Process that was never started")
        var effects = Effects()
        switch phase {
        case .running(let worker):
            requestedSignal = signal
            effects.signal = (worker, signal)
        case .starting:
            // Delivered when the handshake arrives; the job is then never sent.
            requestedSignal = signal
        case .created, .finished:
            break
        }
        return effects
    }

    /// Registers an async joiner; returns nil (and keeps no continuation) if the process has finished already.
    mutating func addJoiner(_ continuation: UnsafeContinuation<Bool, Never>) -> UInt64? {
        guard !isFinished else { return nil }
        nextJoiner += 1
        joiners[nextJoiner] = continuation
        return nextJoiner
    }

    /// Takes back a joiner whose wait timed out or was cancelled, if it is still waiting.
    mutating func removeJoiner(_ id: UInt64) -> UnsafeContinuation<Bool, Never>? {
        joiners.removeValue(forKey: id)
    }

    // MARK: - Supervisor events

    mutating func workerStarted(_ worker: WorkerProcess) -> Effects {
        var effects = Effects()
        pid = worker.pid
        phase = .running(worker)
        if let requestedSignal {
            effects.signal = (worker, requestedSignal)
        } else {
            effects.sendJob = worker
        }
        return effects
    }

    mutating func workerFailedToStart(_ error: ExecutorError) -> Effects {
        outcome = .failure(error.about(jobName: jobName))
        return finish()
    }

    /// Takes the worker's answer: its first item, copied out of the worker's lane by the storage.
    mutating func received(_ item: Frame?) {
        guard outcome == nil, let item else { return }
        outcome = .success(item)
    }

    var expectsResult: Bool { outcome == nil }

    mutating func workerExited(_ exit: WorkerExit, violation: ExecutorError?) -> Effects {
        self.exit = exit
        if outcome == nil {
            outcome = .failure(failure(exit: exit, violation: violation))
        }
        return finish()
    }

    private func failure(exit: WorkerExit, violation: ExecutorError?) -> ExecutorError {
        if let violation {
            return violation.about(jobName: jobName)
        }
        if let requestedSignal {
            return ExecutorError.processStopped(jobName: jobName, signal: requestedSignal, exit: exit)
        }
        return ExecutorError.processCrashed(jobName: jobName, exit: exit)
    }

    private mutating func finish() -> Effects {
        phase = .finished
        var effects = Effects()
        effects.finished = true
        effects.resumes = Array(joiners.values)
        joiners = [:]
        return effects
    }
}
#endif
