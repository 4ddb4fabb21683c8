import CoreMetrics
import Logging
import NIOCore
import Synchronization
import TriadCore

/// A Triad `Executor` that runs jobs as tasks on one ``AsyncLoop``: many jobs at once on one thread.
///
/// It suits I/O-bound jobs (network calls, file reads, subprocesses) that spend their time waiting. CPU-bound jobs
/// run one after another, as on asyncio, since they never suspend. Moving a job here from a thread or process pool
/// changes one line:
///
/// ```swift
/// let executor = EventLoopExecutor(maxConcurrent: 200)   // was: ThreadPoolExecutor(workers: 8)
/// let pages = try await executor.map(urls.map(FetchPage.init))
/// await executor.shutdown()
/// ```
///
/// At most ``workerCount`` jobs run at once; the rest wait in submission order. A timed-out or cancelled job's
/// task is cancelled and its handle resolves at once.
///
/// ## Logs and metrics
/// The executor logs through the `logger` it is given (nothing by default, so that a program's standard output
/// stays its own): a job that timed out and a shutdown at `notice`, a failed job at `debug`, with `pool` (the
/// executor's ``name``), `job` and `code` metadata. With a swift-metrics backend it reports, under the
/// `triad_loop_executor` prefix, jobs submitted, completed and failed by error code, the jobs waiting for a free
/// slot (`queue_depth`) and running (`jobs_running`), and how long jobs wait and run.
public final class EventLoopExecutor: TriadCore.Executor {
    /// The loop the jobs run on.
    public let loop: AsyncLoop
    /// The most jobs running at once: the executor's concurrency limit, not a thread count.
    public let workerCount: Int
    /// The executor's name in its logs, as `pool` metadata, and in its metrics, as the `pool` dimension.
    public let name: String

    /// Where the executor logs, with its ``name`` as `pool` metadata; a logger that discards everything unless one
    /// was given.
    public let logger: Logger

    private let ownsLoop: Bool
    private let state = Mutex(ExecutorState())
    private let metrics: ExecutorMetrics?

    /// Makes an executor with a loop of its own, which ``shutdown(wait:cancelPending:)`` stops.
    ///
    /// - Parameters:
    ///   - maxConcurrent: The most jobs running at once (`workerCount`); at least 1.
    ///   - options: The new loop's options.
    ///   - name: The executor's name in its logs and metrics.
    ///   - logger: Where the executor logs; by default nowhere.
    ///   - metricsFactory: Where the executor reports its metrics; `nil` for the loop's factory
    ///     (`AsyncLoop.Options.metricsFactory`) or else the program's `MetricsSystem.factory`. While that is
    ///     swift-metrics' no-op default, the executor records nothing and pays nothing for it.
    ///   - metricsLabelPrefix: The first part of every metric's label.
    public convenience init(
        maxConcurrent: Int = 1024,
        options: AsyncLoop.Options = AsyncLoop.Options(),
        name: String = "loop",
        logger: Logger = Logger(label: "triad.async.executor", factory: { _ in SwiftLogNoOpLogHandler() }),
        metricsFactory: (any MetricsFactory)? = nil,
        metricsLabelPrefix: String = "triad_loop_executor"
    ) {
        self.init(
            loop: AsyncLoop(options: options), maxConcurrent: maxConcurrent, ownsLoop: true, name: name,
            logger: logger, metricsFactory: metricsFactory ?? options.metricsFactory,
            metricsLabelPrefix: metricsLabelPrefix
        )
    }

    /// Makes an executor on an existing loop, which it leaves running at shutdown.
    ///
    /// - Parameters:
    ///   - loop: The loop to run jobs on.
    ///   - maxConcurrent: The most jobs running at once (`workerCount`); at least 1.
    ///   - name: The executor's name in its logs and metrics.
    ///   - logger: Where the executor logs; by default nowhere.
    ///   - metricsFactory: Where the executor reports its metrics; `nil` for the loop's factory or else the
    ///     program's `MetricsSystem.factory`.
    ///   - metricsLabelPrefix: The first part of every metric's label.
    public convenience init(
        loop: AsyncLoop,
        maxConcurrent: Int = 1024,
        name: String = "loop",
        logger: Logger = Logger(label: "triad.async.executor", factory: { _ in SwiftLogNoOpLogHandler() }),
        metricsFactory: (any MetricsFactory)? = nil,
        metricsLabelPrefix: String = "triad_loop_executor"
    ) {
        self.init(
            loop: loop, maxConcurrent: maxConcurrent, ownsLoop: false, name: name, logger: logger,
            metricsFactory: metricsFactory ?? loop.options.metricsFactory, metricsLabelPrefix: metricsLabelPrefix
        )
    }

    private init(
        loop: AsyncLoop,
        maxConcurrent: Int,
        ownsLoop: Bool,
        name: String,
        logger: Logger,
        metricsFactory: (any MetricsFactory)?,
        metricsLabelPrefix: String
    ) {
        precondition(maxConcurrent >= 1, "maxConcurrent must be at least 1")
        self.loop = loop
        self.workerCount = maxConcurrent
        self.ownsLoop = ownsLoop
        self.name = name
        var logger = logger
        logger[metadataKey: "pool"] = "\(name)"
        self.logger = logger
        metrics = ExecutorMetrics.make(
            factory: metricsFactory, prefix: metricsLabelPrefix, name: name, workers: false
        )
    }

    /// Queues a job on the loop and returns its handle at once.
    ///
    /// - Parameters:
    ///   - job: The job.
    ///   - options: Its options; a timeout counts from the moment the job starts.
    /// - Returns: The job's handle.
    /// - Throws: `ExecutorError` with code `shutDown` after shutdown. A job that fails does not make `submit`
    ///   throw; its handle carries the error.
    public func submit<J: Job>(_ job: J, options: JobOptions) throws(ExecutorError) -> JobHandle<J.Output> {
        try submitWork(jobName: J.jobName, timeout: options.timeout) { try await job.run() }
    }

    /// Runs every job on the loop and returns their values in order.
    ///
    /// With no per-job timeout, the map starts `MapOptions.maxInFlight` runner tasks (by default ``workerCount``,
    /// at most one per job), and each runs job after job, taking the next one as it finishes the last: a job costs
    /// no task or handle of its own, and the runners count against ``workerCount`` as jobs do. A runner yields to
    /// the loop's other tasks every few dozen jobs. With a timeout each job is submitted as
    /// ``submit(_:options:)`` does, so that it can resolve at its deadline.
    ///
    /// - Parameters:
    ///   - jobs: The jobs.
    ///   - options: How many jobs run at once, each job's timeout once started, and a progress callback, called
    ///     after each job.
    /// - Returns: The values, in the order of `jobs`.
    /// - Throws: The first error a job throws, which stops the runners from starting more jobs and cancels the
    ///   jobs running; `ExecutorError.Code.cancelled` if the caller is cancelled; `ExecutorError.Code.shutDown` if
    ///   the executor shuts down before every job has started.
    public func map<S: Sequence>(_ jobs: S, options: MapOptions) async throws -> [S.Element.Output]
    where S.Element: Job {
        try await RunnerMap.map(
            Array(jobs), on: self, options: options, timed: options.timeout != nil, runners: workerCount,
            metrics: metrics, startRunner: startRunner
        )
    }

    /// Runs every job on the loop and yields each outcome as it completes, tagged with its index in `jobs`.
    ///
    /// Without a per-job timeout the jobs run on runner tasks, as in ``map(_:options:)``; a failing job's outcome
    /// carries its error and the others go on. If the executor shuts down first, every job not yet started yields
    /// `ExecutorError.Code.shutDown`. Ending the iteration early cancels the jobs running.
    ///
    /// - Parameters:
    ///   - jobs: The jobs.
    ///   - options: How many jobs run at once, each job's timeout once started, and a progress callback.
    /// - Returns: The outcomes in completion order.
    public func mapUnordered<S: Sequence>(
        _ jobs: S,
        options: MapOptions
    ) -> AsyncStream<JobCompletion<S.Element.Output>> where S.Element: Job {
        RunnerMap.mapUnordered(
            Array(jobs), on: self, options: options, timed: options.timeout != nil, runners: workerCount,
            metrics: metrics, startRunner: startRunner
        )
    }

    /// Starts one runner of `run` as a job of this executor, so that its limit and its shutdown count it.
    private func startRunner<J: Job>(_ run: RunnerMap<J>) throws(ExecutorError) -> JobHandle<Void> {
        try submitWork(jobName: J.jobName, timeout: nil, observed: false) { [self] in
            await run.runJobs { isShutDown ? ExecutorError.shutDown(jobName: J.jobName) : nil }
        }
    }

    private var isShutDown: Bool { state.withLock { $0.isShutDown } }

    /// Queues `body` as one job: it starts at once if fewer than ``workerCount`` jobs run, else in turn.
    /// Starts or queues `body`. With `observed`, the job counts in the metrics and its failure is logged; a map's
    /// runner is not observed, its jobs are.
    private func submitWork<T: Sendable>(
        jobName: String,
        timeout: Duration?,
        observed: Bool = true,
        _ body: @escaping @Sendable () async throws -> T
    ) throws(ExecutorError) -> JobHandle<T> {
        let handle = JobHandle<T>(jobName: jobName)
        let submitted = observed ? observeSubmission(of: handle, logger: logger, metrics: metrics) : nil
        let start: @Sendable () -> Void = { [self] in
            self.start(body, handle: handle, timeout: timeout, submitted: submitted)
        }
        let (runNow, counts) = state.withLock { state -> (Bool?, Counts?) in
            if state.isShutDown { return (nil, nil) }
            if state.running < workerCount {
                state.running += 1
                return (true, metrics == nil ? nil : state.counts)
            }
            state.pending.append(
                PendingJob(start: start, drop: { handle.fail(ExecutorError.droppedAtShutdown(jobName: jobName)) })
            )
            return (false, metrics == nil ? nil : state.counts)
        }
        guard let runNow else {
            if observed { metrics?.failed(jobName, code: ExecutorError.Code.shutDown.rawValue) }
            throw ExecutorError.shutDown(jobName: jobName)
        }
        if let counts { record(counts) }
        if runNow { start() }
        return handle
    }

    private func start<T: Sendable>(
        _ body: @escaping @Sendable () async throws -> T,
        handle: JobHandle<T>,
        timeout: Duration?,
        submitted: ContinuousClock.Instant?
    ) {
        guard handle.markRunning() else {
            finishOne()
            return
        }
        let loop = self.loop
        let metrics = self.metrics
        let started: ContinuousClock.Instant? = submitted == nil ? nil : .now
        if let metrics, let started, let submitted {
            metrics.job(handle.jobName).wait.recordNanoseconds((started - submitted).saturatingSignedNanoseconds)
        }
        let task = Task(executorPreference: loop.taskExecutor) {
            do {
                // Jobs find their loop through `AsyncLoop.current`, to sleep on its clock and use its I/O.
                handle.succeed(try await AsyncLoop.$current.withValue(loop) { try await body() })
            } catch {
                handle.fail(error)
            }
            if let metrics, let started {
                metrics.job(handle.jobName).run.recordNanoseconds((.now - started).saturatingSignedNanoseconds)
            }
        }
        var timer: Scheduled<Void>?
        if let timeout {
            let logger = self.logger
            timer = loop.eventLoop.scheduleTask(in: timeout.timeAmount) {
                let error = ExecutorError.timedOut(jobName: handle.jobName, after: timeout, killedWorker: false)
                let failed = handle.fail(error) {
                    logger.notice(
                        "job timed out after \(timeout); its task was cancelled",
                        metadata: ["job": "\(handle.jobName)", "code": "\(ExecutorError.Code.timedOut.rawValue)"]
                    )
                }
                if failed { task.cancel() }
            }
        }
        handle.setCancelHandler { _ in task.cancel() }
        handle.whenComplete { [timer] _ in
            timer?.cancel()
        }
        Task(executorPreference: loop.taskExecutor) { [self] in
            await task.value
            finishOne()
        }
    }

    /// Counts a job as finished and starts the next pending one.
    private func finishOne() {
        let (next, counts) = state.withLock { state -> ((@Sendable () -> Void)?, Counts?) in
            if let next = state.pending.popFirst() { return (next.start, metrics == nil ? nil : state.counts) }
            state.running -= 1
            if state.running == 0 {
                for waiter in state.idleWaiters { waiter.resume() }
                state.idleWaiters = []
            }
            return (nil, metrics == nil ? nil : state.counts)
        }
        if let counts { record(counts) }
        next?()
    }

    private func record(_ counts: Counts) {
        metrics?.queueDepth.record(counts.pending)
        metrics?.inFlight.record(counts.running)
    }

    /// Stops accepting jobs and, optionally, waits for the queued ones. If the executor made its own loop, the
    /// loop stops once the jobs have finished (with `wait`).
    ///
    /// - Parameters:
    ///   - wait: Whether to return only once every job allowed to run has finished.
    ///   - cancelPending: Whether to drop the jobs that have not started; their handles resolve as cancelled, with
    ///     `ExecutorError.Code.shutDown`.
    ///
    /// Shutting down twice is not an error.
    public func shutdown(wait: Bool, cancelPending: Bool) async {
        let (pending, counts) = state.withLock { state -> ([PendingJob], Counts?) in
            let counts = state.isShutDown ? nil : state.counts
            state.isShutDown = true
            guard cancelPending else { return ([], counts) }
            defer { state.pending.removeAll() }
            return (Array(state.pending), counts)
        }
        if let counts {
            logger.shutdownBegan(cancelPending: cancelPending, queued: counts.pending, running: counts.running)
        }
        for job in pending { job.drop() }
        guard wait else {
            // Still stop an owned loop, once the jobs allowed to run have finished.
            if ownsLoop { Task { await self.shutdown(wait: true, cancelPending: false) } }
            return
        }
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let idle = state.withLock { state -> Bool in
                if state.running == 0 && state.pending.isEmpty { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
        if ownsLoop { await loop.shutdown() }
    }
}

private struct ExecutorState {
    var isShutDown = false
    var running = 0
    var pending = CircularBuffer<PendingJob>()
    var idleWaiters: [UnsafeContinuation<Void, Never>] = []

    var counts: Counts { Counts(pending: pending.count, running: running) }
}

/// How many jobs wait for a free slot and how many run.
private struct Counts {
    var pending: Int
    var running: Int
}

/// A job waiting for a free slot: how to start it, and how to fail it if a shutdown drops it first.
private struct PendingJob {
    let start: @Sendable () -> Void
    let drop: @Sendable () -> Void
}
