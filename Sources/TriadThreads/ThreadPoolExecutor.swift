import CTriadShims
import CoreMetrics
import Glibc
import Logging
import TriadCore

/// A pool of dedicated OS threads that runs `Job`s and closures, like Python's
/// `concurrent.futures.ThreadPoolExecutor`.
///
/// ```swift
/// let pool = ThreadPoolExecutor(workers: 4)
/// let handle = try pool.submit(CountPrimes(range: 0..<1_000_000))
/// print(try await handle.value)
/// let squares = try await pool.map((1...100).map { Square(n: $0) })
/// await pool.shutdown()
/// ```
///
/// The workers are pthreads of their own, not threads of Swift's cooperative pool, so a job may block (on a file, a
/// ``Lock``, a ``BlockingQueue``) without starving async code. The pool is also a `TaskExecutor`: a job's async
/// `Job.run()` runs on the pool's threads, and so does any task created with
/// `Task(executorPreference: pool)` or inside `withTaskExecutorPreference(pool)`. Keep the pool alive while such
/// tasks run. Work that still prefers the pool after a shutdown has stopped every worker runs on Swift's global
/// executor instead.
///
/// The workers count as daemon threads: `Threading.joinNonDaemonThreads(timeout:)` does not wait for them, so shut
/// the pool down (``shutdown(wait:cancelPending:)``) to let its queued jobs finish before the process exits.
///
/// An idle worker spins for a few tens of microseconds before it parks, which makes a job submitted right after
/// another start in about a microsecond rather than the 20-25 µs of waking a parked thread.
///
/// ## Timeouts and cancellation
/// A thread cannot be killed. A job that runs past its `JobOptions.timeout` (or the pool's
/// ``defaultTimeout``) has its handle resolved at once with `ExecutorError.Code.timedOut` and its task
/// cancelled; its code stops at its next cancellation check, and its worker is busy until then. A closure job cannot
/// be cancelled at all: its handle resolves, and the closure runs to its end.
///
/// ## Logs and metrics
/// The pool logs through the `logger` it is given (nothing by default): a job that timed out at `notice`, a
/// shutdown at `notice`, a failed job at `debug`, with `pool`, `job` and `code` metadata. With a swift-metrics
/// backend it reports, under the `triad_threads` prefix and with the pool's ``name`` as the `pool` dimension, jobs
/// submitted, completed and failed by error code (closures count as the job `closure`), the jobs waiting
/// (`queue_depth`) and running (`jobs_running`), the live worker threads, and how long jobs wait and run.
public final class ThreadPoolExecutor: TriadCore.Executor, TaskExecutor {
    /// The number of worker threads.
    public let workerCount: Int
    /// The prefix of the workers' thread names (`<name>-0`, `<name>-1`, ...).
    public let name: String
    /// The timeout of every job that sets none in its `JobOptions`; `nil` for none.
    public let defaultTimeout: Duration?

    /// Where the pool logs, with its ``name`` as `pool` metadata; a logger that discards everything unless one was
    /// given.
    public let logger: Logger

    let core = PoolCore()
    let metrics: ExecutorMetrics?

    /// Makes a pool and starts its threads.
    ///
    /// - Parameters:
    ///   - workers: The number of threads; `nil` for the number of CPUs online. At least 1.
    ///   - name: The prefix of the workers' thread names.
    ///   - defaultTimeout: The timeout of jobs that set none; `nil` for no limit.
    ///   - logger: Where the pool logs; by default nowhere. Records carry the pool's `name` as `pool` metadata.
    ///   - metricsFactory: Where the pool reports its metrics; `nil` for the program's `MetricsSystem.factory`.
    ///     While that is swift-metrics' no-op default, the pool records nothing and pays nothing for it.
    ///   - metricsLabelPrefix: The first part of every metric's label, as in `triad_threads_jobs_submitted_total`.
    ///   - initializer: Runs once on each worker thread, with the worker's index, before it takes any job (Python's
    ///     `initializer`). Use it to set up ``ThreadLocal`` state.
    /// - Precondition: `workers` is at least 1, and the system can start the threads.
    public init(
        workers: Int? = nil,
        name: String = "triad-pool",
        defaultTimeout: Duration? = nil,
        logger: Logger = Logger(label: "triad.threads", factory: { _ in SwiftLogNoOpLogHandler() }),
        metricsFactory: (any MetricsFactory)? = nil,
        metricsLabelPrefix: String = "triad_threads",
        initializer: (@Sendable (_ workerIndex: Int) -> Void)? = nil
    ) {
        let count = workers ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        precondition(count >= 1, "a thread pool needs at least one worker, not \(count)")
        self.workerCount = count
        self.name = name
        self.defaultTimeout = defaultTimeout
        var logger = logger
        logger[metadataKey: "pool"] = "\(name)"
        self.logger = logger
        metrics = ExecutorMetrics.make(factory: metricsFactory, prefix: metricsLabelPrefix, name: name)
        core.metrics = metrics
        core.executor = asUnownedTaskExecutor()
        let core = self.core
        for index in 0..<count {
            core.workerWillStart()
            let threadName = "\(name)-\(index)"
            let rc = DetachedThread.start {
                triad_thread_set_name(threadName)
                initializer?(index)
                core.runWorker()
            }
            precondition(rc == 0, "thread pool \(name) could not start worker \(index) (errno \(rc))")
        }
    }

    /// A pool that nobody references any more stops taking jobs; its workers finish the queued ones and exit.
    deinit {
        for drop in core.beginShutdown(cancelPending: false).drops { drop() }
    }

    // MARK: - Submitting

    /// Queues a job and returns its handle at once. The job's `run()` executes on one of the pool's threads.
    ///
    /// - Parameters:
    ///   - job: The job to run.
    ///   - options: Per-job options; `JobOptions.timeout` counts from the moment the job starts.
    /// - Returns: The job's handle; await `JobHandle.value`, or block an OS thread with
    ///   `JobHandle.wait(timeout:)`.
    /// - Throws: `ExecutorError` with `ExecutorError.Code.shutDown` after ``shutdown(wait:cancelPending:)``. A job
    ///   that fails does not make `submit` throw; its handle carries the error.
    public func submit<J: Job>(_ job: J, options: JobOptions) throws(ExecutorError) -> JobHandle<J.Output> {
        try submitAsync(jobName: J.jobName, timeout: options.timeout) { try await job.run() }
    }

    /// Queues a closure and returns its handle at once: the in-process convenience that Python's `submit(fn)` is.
    ///
    /// The closure runs on one of the pool's threads and may block. Closures cannot run in other processes, so code
    /// meant to move between Triad's models should submit a `Job` instead.
    ///
    /// - Parameters:
    ///   - timeout: How long the closure may run once started; `nil` for ``defaultTimeout``. At the timeout the
    ///     handle resolves with `ExecutorError.Code.timedOut`, but the closure runs on to its end.
    ///   - body: The code to run.
    /// - Throws: `ExecutorError` with `ExecutorError.Code.shutDown` after shutdown.
    public func submit<T: Sendable>(
        timeout: Duration? = nil,
        _ body: @escaping @Sendable () throws -> T
    ) throws(ExecutorError) -> JobHandle<T> {
        let handle = JobHandle<T>(jobName: "closure")
        let timeout = timeout ?? defaultTimeout
        let core = self.core
        let logger = self.logger
        let submitted = observeSubmission(of: handle, logger: logger, metrics: metrics)
        let work = PoolCore.Work.closure {
            let started = core.started(handle.id, submitted: submitted, jobName: handle.jobName)
            defer { core.finished(started: started, jobName: handle.jobName) }
            guard handle.markRunning() else { return }
            let timer = timeout.map { Self.scheduleTimeout($0, for: handle, cancelling: nil, logger: logger) }
            handle.complete(Result { try body() })
            if let timer { DeadlineScheduler.shared.cancel(timer) }
        }
        guard core.submit(work, id: handle.id, drop: Self.dropper(handle)) else {
            metrics?.failed(handle.jobName, code: ExecutorError.Code.shutDown.rawValue)
            throw ExecutorError.shutDown(jobName: handle.jobName)
        }
        return handle
    }

    /// Queues an async closure and returns its handle at once. It runs as a task on the pool's threads, and its
    /// suspensions resume there too.
    ///
    /// - Parameters:
    ///   - timeout: How long it may run once started; `nil` for ``defaultTimeout``. At the timeout the handle
    ///     resolves with `ExecutorError.Code.timedOut` and the task is cancelled.
    ///   - body: The code to run.
    /// - Throws: `ExecutorError` with `ExecutorError.Code.shutDown` after shutdown.
    public func submit<T: Sendable>(
        timeout: Duration? = nil,
        _ body: @escaping @Sendable () async throws -> T
    ) throws(ExecutorError) -> JobHandle<T> {
        try submitAsync(jobName: "closure", timeout: timeout, body)
    }

    // MARK: - Shutting down

    /// Stops accepting jobs and, optionally, waits for the queued ones and the worker threads.
    ///
    /// - Parameters:
    ///   - wait: Whether to return only once every job still allowed to run has finished and every worker has
    ///     exited. Suspends; never blocks a thread.
    ///   - cancelPending: Whether to drop the jobs that have not started; their handles resolve as cancelled,
    ///     with `ExecutorError.Code.shutDown`. Running jobs always finish.
    ///
    /// Shutting down twice is not an error. ``submit(_:options:)`` throws `ExecutorError.Code.shutDown`
    /// from the first call on.
    public func shutdown(wait: Bool, cancelPending: Bool) async {
        beginShutdown(cancelPending: cancelPending)
        if wait { await core.waitForExit() }
    }

    /// Stops accepting jobs and blocks the calling OS thread until the queued jobs have finished and every worker
    /// has exited (Python's `shutdown(wait=True)`). This blocks an OS thread; from async code use
    /// ``shutdown(wait:cancelPending:)``.
    ///
    /// - Parameter cancelPending: Whether to cancel the jobs that have not started.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func shutdownBlocking(cancelPending: Bool = false) {
        beginShutdown(cancelPending: cancelPending)
        core.waitForExitBlocking()
    }

    /// Whether the pool still accepts jobs.
    public var isAcceptingJobs: Bool { core.isAcceptingJobs }

    /// The kernel ids of the worker threads that are running (see ``Threading/currentNativeID``).
    public var workerNativeIDs: [Int32] { core.workerNativeIDs }

    // MARK: - TaskExecutor

    /// Runs a partial task on one of the pool's threads: how `Task(executorPreference: pool)` and jobs' `run()` get
    /// there. Once every worker has exited after a shutdown, the task runs on Swift's global executor instead.
    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        if !core.enqueue(unowned) {
            globalConcurrentExecutor.enqueue(ExecutorJob(unowned))
        }
    }

    // MARK: - Internals

    /// Stops accepting jobs, drops the pending ones if asked, and logs it the first time.
    private func beginShutdown(cancelPending: Bool) {
        let (drops, counts) = core.beginShutdown(cancelPending: cancelPending)
        if let counts {
            logger.shutdownBegan(cancelPending: cancelPending, queued: counts.pending, running: counts.running)
        }
        for drop in drops { drop() }
    }

    /// Queues `body` as a task on the pool's threads. With `observed`, the job counts in the metrics and its failure
    /// is logged; a map's runner is not observed, its jobs are.
    func submitAsync<T: Sendable>(
        jobName: String,
        timeout: Duration?,
        observed: Bool = true,
        _ body: @escaping @Sendable () async throws -> T
    ) throws(ExecutorError) -> JobHandle<T> {
        let handle = JobHandle<T>(jobName: jobName)
        let timeout = timeout ?? defaultTimeout
        let core = self.core
        let logger = self.logger
        let submitted = observed ? observeSubmission(of: handle, logger: logger, metrics: metrics) : nil
        let taskBox = TaskBox()
        handle.setCancelHandler { wasRunning in
            if wasRunning { taskBox.cancel() }
        }
        // The task is queued on the pool at once; it checks whether its job was cancelled before doing anything.
        // Accounting happens before the task exists, so shutdown cannot miss it.
        guard core.submit(nil, id: handle.id, drop: Self.dropper(handle)) else {
            if observed { metrics?.failed(jobName, code: ExecutorError.Code.shutDown.rawValue) }
            throw ExecutorError.shutDown(jobName: jobName)
        }
        let task = Task(executorPreference: self) { [self] in
            _ = self  // keeps the pool, the task's executor, alive while the task lives
            let started = core.started(handle.id, submitted: submitted, jobName: jobName)
            defer { core.finished(started: started, jobName: jobName) }
            guard handle.markRunning() else { return }
            let timer = timeout.map { Self.scheduleTimeout($0, for: handle, cancelling: taskBox, logger: logger) }
            do {
                handle.succeed(try await body())
            } catch {
                handle.fail(error)
            }
            if let timer { DeadlineScheduler.shared.cancel(timer) }
        }
        taskBox.set(task)
        return handle
    }

    /// What fails `handle`'s job if a shutdown with `cancelPending` comes before it starts.
    private static func dropper<T: Sendable>(_ handle: JobHandle<T>) -> @Sendable () -> Void {
        { handle.fail(ExecutorError.droppedAtShutdown(jobName: handle.jobName)) }
    }

    private static func scheduleTimeout<T: Sendable>(
        _ timeout: Duration,
        for handle: JobHandle<T>,
        cancelling task: TaskBox?,
        logger: Logger
    ) -> DeadlineScheduler.Token {
        DeadlineScheduler.shared.schedule(at: .after(timeout)!) {
            let error = ExecutorError.timedOut(jobName: handle.jobName, after: timeout, killedWorker: false)
            let failed = handle.fail(error) {
                logger.notice(
                    "job timed out after \(timeout); its thread stays busy until the job stops at a cancellation check",
                    metadata: ["job": "\(handle.jobName)", "code": "\(ExecutorError.Code.timedOut.rawValue)"]
                )
            }
            if failed { task?.cancel() }
        }
    }
}
