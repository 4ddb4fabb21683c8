#if os(Linux)
import Glibc
import Synchronization
import TriadCore

/// A pool of worker processes that runs registered `Job`s, like Python's `ProcessPoolExecutor`, but one that a
/// crash cannot break.
///
/// Each worker is the program's own binary started again (see ``ProcessPool/bootstrap(jobs:errors:)``), so a job
/// runs with its own memory: a crash, a leak or a runaway loop stays in its worker.
///
/// ```swift
/// let pool = ProcessPoolExecutor(workers: 4)
/// let count = try await pool.submit(CountPrimes(range: 0..<1_000_000)).value
/// let counts = try await pool.map((0..<100).map { CountPrimes(range: $0 * 10_000..<($0 + 1) * 10_000) })
/// await pool.shutdown()
/// ```
///
/// What it guarantees:
/// - **A crash fails one job.** A worker that dies (a `fatalError`, a segmentation fault, an outside SIGKILL, an
///   `exit`) fails only the job it was running, with `ExecutorError.Code.workerCrashed` naming the job and the
///   signal or exit status (see ``WorkerExit``). Jobs queued behind it run on the replacement worker. With
///   ``ProcessPoolConfiguration/crashRetries`` the crashed job runs again instead.
/// - **Timeouts and cancellation reach running jobs.** The pool kills the worker and replaces it.
/// - **Every handle resolves**, whatever happens to the workers.
/// - **No orphans.** Workers exit when the parent dies, even by SIGKILL.
/// - **Bad bytes never hurt the parent.** A worker that sends garbage, a truncated or an oversized frame is killed
///   and replaced; its job fails with `ExecutorError.Code.protocolViolation`.
///
/// Jobs are pipelined (several travel to a worker at once), quick jobs submitted one by one travel in batches (see
/// ``ProcessPoolConfiguration/batchesQuickJobs``), a worker sends the results of quick jobs together, and
/// ``map(_:options:)`` sends jobs in chunks, so tiny jobs cost about two microseconds each, not milliseconds. A job
/// that writes its own wire form (`WireCodable`) skips `Codable`'s per-value costs on both sides. A worker marks each
/// job it starts in a page it shares with the pool, so a crash is pinned on the job that was running even when results
/// travel in batches. Quick jobs that had finished just before the crash, but whose results had not been sent yet, run
/// again on the replacement worker: jobs are delivered at least once, so keep their side effects idempotent.
public final class ProcessPoolExecutor: InterruptibleExecutor {
    let storage: PoolStorage

    /// The number of worker processes.
    public var workerCount: Int { storage.configuration.workers }

    /// Starts a pool with `workers` worker processes, running the current program.
    ///
    /// The workers start in the background at once; jobs submitted before they are ready wait for them.
    ///
    /// - Parameter workers: How many workers; `nil` for the number of CPUs.
    public convenience init(workers: Int? = nil) {
        self.init(configuration: ProcessPoolConfiguration(workers: workers))
    }

    /// Starts a pool configured by `configuration`.
    ///
    /// - Parameter configuration: Workers, executable, timeouts, limits and the rest.
    public init(configuration: ProcessPoolConfiguration) {
        storage = PoolStorage(configuration: configuration, registry: configuration.registry ?? ProcessPool.registry)
        storage.start()
        SignalShutdown.track(storage)
    }

    deinit {
        // A pool dropped without a shutdown leaves no workers behind.
        SignalShutdown.untrack(storage)
        storage.killNow()
        storage.forgetTemplates()
    }

    /// Queues a job and returns its handle at once.
    ///
    /// - Parameters:
    ///   - job: The job; its type must be registered.
    ///   - options: Per-job options; a `timeout` kills and replaces the worker when the job runs past it.
    /// - Returns: The job's handle. Cancelling it removes a queued job, or kills and replaces the worker of a
    ///   running one.
    /// - Throws: `ExecutorError` with `ExecutorError.Code.unknownJob` when the job's type is not registered,
    ///   `ExecutorError.Code.codingFailed` when it cannot be encoded or is larger than the frame limit, and
    ///   `ExecutorError.Code.shutDown` after shutdown. A job that fails in its worker does not make `submit`
    ///   throw: its handle carries the error.
    public func submit<J: Job>(_ job: J, options: JobOptions) throws(ExecutorError) -> JobHandle<J.Output> {
        let (work, handle) = try PoolSubmission.single(
            job, template: registeredJob(of: J.self), sequence: storage.nextSequence(),
            maxFrameSize: storage.configuration.maxFrameSize, timeout: options.timeout
        )
        try PoolSubmission.enqueue(single: consume work, handle: handle, into: storage)
        return handle
    }

    /// The job name of `J`, checked against the registry.
    ///
    /// - Throws: `ExecutorError.Code.unknownJob` when no job of that name is registered.
    func registeredName<J: Job>(of type: J.Type) throws(ExecutorError) -> String {
        try registeredJob(of: type).jobName
    }

    /// The template of single jobs of `J` (see `SingleJobTemplate`), checked against the registry.
    ///
    /// - Throws: `ExecutorError.Code.unknownJob` when no job of that name is registered.
    func registeredJob<J: Job>(of type: J.Type) throws(ExecutorError) -> SingleJobTemplate {
        guard let registered = storage.registeredJob(of: type) else { throw ExecutorError.unregistered(J.self) }
        return registered
    }

    /// Queues a map's chunk `work`, letting cancelling `handle` drop the work or kill its worker.
    func enqueue<Output: Sendable>(_ work: consuming PoolWork, handle: JobHandle<Output>) throws(ExecutorError) {
        try PoolSubmission.enqueue(consume work, handle: handle, metrics: storage.metrics, into: storage)
    }

    /// Stops accepting jobs and, optionally, waits for the queued ones and for the workers to exit.
    ///
    /// - Parameters:
    ///   - wait: Whether to return only once every remaining job has finished and every worker has exited.
    ///   - cancelPending: Whether to drop the jobs that have not started in a worker yet; their handles resolve as
    ///     cancelled, with `ExecutorError.Code.shutDown`.
    ///
    /// Shutting down twice is not an error.
    public func shutdown(wait: Bool, cancelPending: Bool) async {
        await storage.shutdown(wait: wait, cancelPending: cancelPending)
    }

    /// Stops the pool now: fails every unfinished job with `ExecutorError.Code.cancelled`, sends SIGTERM to the
    /// workers, and SIGKILL to those still alive after ``ProcessPoolConfiguration/terminationGracePeriod``.
    /// Returns once every worker is reaped.
    public func terminate() async {
        await storage.terminate(signal: SIGTERM)
    }

    /// Stops the pool at once with SIGKILL; every unfinished job fails with `ExecutorError.Code.cancelled`.
    /// Returns once every worker is reaped.
    public func kill() async {
        await storage.terminate(signal: SIGKILL)
    }

    /// Stops the pool at once, as ``kill()`` does: for a drain that ran out of time.
    public func stopNow() async {
        await kill()
    }

    /// A fresh sequence number for a message of this pool, for a transport that forwards messages it did not
    /// build (an MPI rank handing its jobs to a local pool).
    package func nextSequence() -> UInt64 { storage.nextSequence() }

    /// Queues a message that was built elsewhere; its sink hears of its jobs as they finish or fail.
    ///
    /// - Throws: `ExecutorError.Code.shutDown` after shutdown.
    package func enqueue(forwarded work: consuming PoolWork) throws(ExecutorError) {
        try storage.enqueue(consume work)
    }

    /// Cancels every message of `root`, killing and replacing the worker of one that runs.
    package func cancel(root: UInt64) {
        storage.cancel(root: root)
    }

    /// How many batches of quick jobs the pool has sent to its workers, for tests.
    package var batchesSent: Int { storage.batchesSent }

    /// Whether the pool still accepts jobs: false from the moment a shutdown, ``terminate()`` or ``kill()`` begins.
    public var isAcceptingJobs: Bool { !storage.isShutDown }

    /// The process ids of the workers that have started, for monitoring and tests.
    public var workerPIDs: [Int32] { storage.workerPIDs }
}
#endif
