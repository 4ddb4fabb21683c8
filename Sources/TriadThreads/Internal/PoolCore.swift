import CTriadShims
import CoreMetrics
import Synchronization
import TriadCore

/// The shared state of a ``ThreadPoolExecutor`` and the loop its worker threads run: one queue of work under one
/// monitor, workers that spin briefly when idle before they park, and the bookkeeping for shutdown.
final class PoolCore: @unchecked Sendable {
    // Guarded by `monitor`: every `var` below. `queued` mirrors `queue.count` atomically so idle workers can spin
    // on it without the lock. `executor` is written once, before the workers start, and only read after.
    enum Work {
        /// A partial task enqueued through `TaskExecutor.enqueue`: the start or the resumption of a job's task.
        case task(UnownedJob)
        /// A synchronous closure submitted with `submit { ... }`.
        case closure(@Sendable () -> Void)
    }

    private let monitor = Monitor()
    private var queue = FIFO<Work>()
    private let queued = Atomic<Int>(0)
    private var sleepers = 0
    private var spinners = 0
    private var isShutDown = false
    private var liveWorkers = 0
    private var activeJobs = 0
    private var pending: [UInt64: @Sendable () -> Void] = [:]
    private var exitWaiters: [UnsafeContinuation<Void, Never>] = []
    private var exitSleepers = 0
    private(set) var workerIDs: [Int32] = []
    nonisolated(unsafe) var executor: UnownedTaskExecutor?
    /// Where the pool's metrics go, if anywhere; written once, before the workers start.
    nonisolated(unsafe) var metrics: ExecutorMetrics?

    // MARK: - Submitting

    /// Counts a new job, records how to drop it if a shutdown comes before it starts, and queues its work if it has
    /// some yet (a job's task queues itself through `enqueue`). Returns `false` after shutdown.
    func submit(_ work: Work?, id: UInt64, drop: @escaping @Sendable () -> Void) -> Bool {
        monitor.lock()
        guard !isShutDown else {
            monitor.unlock()
            return false
        }
        activeJobs += 1
        pending[id] = drop
        if let work { pushLocked(work) }
        let counts = metrics == nil ? nil : countsLocked
        monitor.unlock()
        if let counts { record(counts) }
        return true
    }

    /// Queues a partial task. Returns `false` once every worker has exited; the caller then runs it elsewhere.
    func enqueue(_ job: UnownedJob) -> Bool {
        monitor.lock()
        guard liveWorkers > 0 || !isShutDown else {
            monitor.unlock()
            return false
        }
        pushLocked(.task(job))
        monitor.unlock()
        return true
    }

    @inline(__always)
    private func pushLocked(_ work: Work) {
        queue.append(work)
        let waiting = queued.add(1, ordering: .releasing).newValue
        // A spinning worker will see the new item by itself; wake a parked one only when spinners cannot keep up.
        if sleepers > 0, waiting > spinners { monitor.signal() }
    }

    /// The job started: it can no longer be cancelled as pending. With metrics, records how long the job named
    /// `jobName`, submitted at `submitted`, waited, and returns when it started.
    func started(_ id: UInt64, submitted: ContinuousClock.Instant?, jobName: String) -> ContinuousClock.Instant? {
        monitor.lock()
        pending[id] = nil
        let counts = metrics == nil ? nil : countsLocked
        monitor.unlock()
        guard let metrics, let submitted else { return nil }
        let now = ContinuousClock.now
        metrics.job(jobName).wait.recordNanoseconds((now - submitted).saturatingSignedNanoseconds)
        if let counts { record(counts) }
        return now
    }

    /// The job's code has returned (its handle may have resolved earlier, by a timeout or a cancellation). With
    /// metrics, records how long it ran since `started`.
    func finished(started: ContinuousClock.Instant?, jobName: String) {
        monitor.lock()
        activeJobs -= 1
        if isShutDown, activeJobs == 0, sleepers > 0 { monitor.broadcast() }
        let counts = metrics == nil ? nil : countsLocked
        monitor.unlock()
        guard let metrics, let started else { return }
        metrics.job(jobName).run.recordNanoseconds((ContinuousClock.now - started).saturatingSignedNanoseconds)
        if let counts { record(counts) }
    }

    /// How many jobs wait, run, and how many workers live.
    struct Counts {
        var pending: Int
        var running: Int
        var workers: Int
    }

    private var countsLocked: Counts {
        Counts(pending: pending.count, running: activeJobs - pending.count, workers: liveWorkers)
    }

    private func record(_ counts: Counts) {
        guard let metrics else { return }
        metrics.queueDepth.record(counts.pending)
        metrics.inFlight.record(counts.running)
        metrics.liveWorkers?.record(counts.workers)
    }

    // MARK: - Shutting down

    /// Stops accepting jobs and returns the drop actions of the jobs that have not started, if asked to, and,
    /// the first time only, how many jobs were waiting and running.
    func beginShutdown(cancelPending: Bool) -> (drops: [@Sendable () -> Void], counts: Counts?) {
        monitor.lock()
        defer { monitor.unlock() }
        let counts = isShutDown ? nil : countsLocked
        isShutDown = true
        if sleepers > 0 { monitor.broadcast() }
        guard cancelPending else { return ([], counts) }
        defer { pending = [:] }
        return (Array(pending.values), counts)
    }

    /// Suspends until every worker has exited. Never blocks a thread.
    func waitForExit() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            monitor.lock()
            if liveWorkers == 0 {
                monitor.unlock()
                continuation.resume()
                return
            }
            exitWaiters.append(continuation)
            monitor.unlock()
        }
    }

    /// Blocks until every worker has exited.
    func waitForExitBlocking() {
        monitor.lock()
        while liveWorkers > 0 {
            exitSleepers += 1
            _ = monitor.wait(until: nil)
            exitSleepers -= 1
        }
        monitor.unlock()
    }

    var isAcceptingJobs: Bool {
        monitor.lock()
        defer { monitor.unlock() }
        return !isShutDown
    }

    var workerNativeIDs: [Int32] {
        monitor.lock()
        defer { monitor.unlock() }
        return workerIDs
    }

    // MARK: - Workers

    func workerWillStart() {
        monitor.lock()
        liveWorkers += 1
        let counts = metrics == nil ? nil : countsLocked
        monitor.unlock()
        if let counts { record(counts) }
    }

    /// The loop of one worker thread: run work until shutdown leaves nothing to do.
    func runWorker() {
        monitor.lock()
        workerIDs.append(triad_thread_id())
        var spun = false
        while true {
            if let work = popLocked() {
                monitor.unlock()
                run(work)
                spun = false
                monitor.lock()
                continue
            }
            if isShutDown, activeJobs == 0 { break }
            if !spun, spinners == 0 {
                // Idle: spin a little before parking, since waking a parked thread costs far more than a spin. One
                // spinner is enough to catch the next job; more would only take CPU from the threads doing work.
                spun = true
                spinners += 1
                monitor.unlock()
                _ = Spin.until { queued.load(ordering: .relaxed) > 0 }
                monitor.lock()
                spinners -= 1
                continue
            }
            sleepers += 1
            _ = monitor.wait(until: nil)
            sleepers -= 1
            spun = false
        }
        liveWorkers -= 1
        workerIDs.removeAll { $0 == triad_thread_id() }
        var waiters: [UnsafeContinuation<Void, Never>] = []
        if liveWorkers == 0 {
            waiters = exitWaiters
            exitWaiters = []
            if exitSleepers > 0 { monitor.broadcast() }
        }
        // Let other workers re-check the exit condition too.
        if sleepers > 0 { monitor.broadcast() }
        let counts = metrics == nil ? nil : countsLocked
        monitor.unlock()
        if let counts { record(counts) }
        for waiter in waiters { waiter.resume() }
    }

    @inline(__always)
    private func popLocked() -> Work? {
        guard let work = queue.popFirst() else { return nil }
        let left = queued.subtract(1, ordering: .relaxed).newValue
        // More work than spinners: pass the wake-up on to a parked worker.
        if left > spinners, sleepers > 0 { monitor.signal() }
        return work
    }

    @inline(__always)
    private func run(_ work: Work) {
        switch work {
        case .task(let job): job.runSynchronously(on: executor!)
        case .closure(let body): body()
        }
    }
}
