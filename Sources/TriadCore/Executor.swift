/// A place where jobs run: a thread pool, the async loop, a process pool or an MPI cluster.
///
/// The API follows Python's `concurrent.futures.Executor`: ``submit(_:options:)`` returns a handle,
/// ``map(_:options:)`` returns results in order with a bounded number of jobs in flight,
/// ``mapUnordered(_:options:)`` streams results as they complete, and ``shutdown(wait:cancelPending:)`` stops it.
/// Moving a job from one model to another changes only the line that creates the executor.
///
/// The name shadows the standard library's `_Concurrency.Executor` for code that imports Triad; write
/// `_Concurrency.Executor` for that one.
public protocol Executor: AnyObject, Sendable {
    /// How many jobs the executor runs at once: threads, worker processes or ranks. The async loop runs many
    /// jobs on one thread and reports its concurrency limit.
    var workerCount: Int { get }

    /// Queues a job and returns its handle at once, without waiting for it to start.
    ///
    /// - Parameters:
    ///   - job: The job to run.
    ///   - options: Per-job options, such as a timeout.
    /// - Returns: The job's handle.
    /// - Throws: ``ExecutorError`` with ``ExecutorError/Code/shutDown`` after shutdown, or
    ///   ``ExecutorError/Code/unknownJob`` from an executor that needs registered jobs. A job that fails while it
    ///   runs does not make `submit` throw; its handle carries the error.
    func submit<J: Job>(_ job: J, options: JobOptions) throws(ExecutorError) -> JobHandle<J.Output>

    /// Runs every job and returns their values in the order of `jobs`.
    ///
    /// At most ``MapOptions/maxInFlight`` jobs are queued at once, so a long sequence does not flood the
    /// executor. The first job to fail cancels the ones still in flight, and its error is thrown. Cancelling the
    /// calling task cancels every job in flight and throws ``ExecutorError/Code/cancelled``.
    func map<S: Sequence>(_ jobs: S, options: MapOptions) async throws -> [S.Element.Output] where S.Element: Job

    /// Runs every job and yields each outcome as soon as it completes, tagged with its index in `jobs`.
    ///
    /// A failing job does not end the stream: its outcome carries the error. Stopping the iteration early
    /// cancels the jobs still in flight.
    func mapUnordered<S: Sequence>(
        _ jobs: S,
        options: MapOptions
    ) -> AsyncStream<JobCompletion<S.Element.Output>> where S.Element: Job

    /// Stops accepting jobs and, optionally, waits for the queued ones.
    ///
    /// - Parameters:
    ///   - wait: Whether to return only once every job still allowed to run has finished and the workers have
    ///     stopped.
    ///   - cancelPending: Whether to drop the jobs that have not started yet. They never run: their handles
    ///     resolve as ``JobState/cancelled`` with ``ExecutorError/Code/shutDown``, which tells them apart from jobs
    ///     whose handles were cancelled. Running jobs are allowed to finish.
    ///
    /// Shutting down twice is not an error.
    func shutdown(wait: Bool, cancelPending: Bool) async
}

/// An executor that can stop at once, for a drain that ran out of time or an operator who will not wait.
///
/// The process pool can: it kills its workers. Threads cannot be killed, so the thread pool and the async loop's
/// executor only drain (see ``Executor/shutdown(wait:cancelPending:)``).
public protocol InterruptibleExecutor: Executor {
    /// Fails every unfinished job with ``ExecutorError/Code/cancelled`` and stops the workers without waiting for
    /// the jobs they run. Returns once every worker has stopped.
    func stopNow() async
}

/// Options for one submitted job.
public struct JobOptions: Sendable, Hashable {
    /// How long the job may run once it has started. `nil` means the executor's default, which is no limit unless
    /// the executor was configured with one.
    ///
    /// A process pool kills and replaces the worker of a job that times out. An in-process executor cannot kill a
    /// thread: it resolves the handle with ``ExecutorError/Code/timedOut`` and cancels the job's task, which stops
    /// at its next cancellation check.
    public var timeout: Duration?

    /// Makes options.
    ///
    /// - Parameter timeout: How long the job may run once started; `nil` for the executor's default.
    public init(timeout: Duration? = nil) {
        self.timeout = timeout
    }
}

/// How far a ``Executor/map(_:options:)`` call has got.
public struct MapProgress: Sendable, Hashable {
    /// Jobs finished, successfully or not.
    public var completed: Int
    /// Jobs in the call.
    public var total: Int

    /// Makes a progress report.
    public init(completed: Int, total: Int) {
        self.completed = completed
        self.total = total
    }

    /// The finished fraction, from 0 to 1; 1 for an empty call.
    public var fraction: Double { total == 0 ? 1 : Double(completed) / Double(total) }
}

/// Options for ``Executor/map(_:options:)`` and ``Executor/mapUnordered(_:options:)``.
public struct MapOptions: Sendable {
    /// The most jobs queued at once; `nil` lets the executor choose (a few per worker).
    public var maxInFlight: Int?
    /// How many jobs travel together to a worker process; `nil` lets the executor choose, in the spirit of
    /// Python's `Pool.map`. In-process executors ignore it.
    public var chunkSize: Int?
    /// The timeout of each job once it has started; `nil` for the executor's default.
    public var timeout: Duration?
    /// Called after each job finishes, on whichever thread delivers its result: one of the executor's own, or one
    /// that waits for another of its jobs and reads results meanwhile. Keep it short, and rely neither on the
    /// thread nor on the task-local values it may see.
    public var progress: (@Sendable (MapProgress) -> Void)?

    /// Makes map options.
    ///
    /// - Parameters:
    ///   - maxInFlight: The most jobs queued at once; `nil` lets the executor choose.
    ///   - chunkSize: Jobs per message to a worker process; `nil` lets the executor choose.
    ///   - timeout: Each job's timeout once started.
    ///   - progress: Called after each job finishes.
    public init(
        maxInFlight: Int? = nil,
        chunkSize: Int? = nil,
        timeout: Duration? = nil,
        progress: (@Sendable (MapProgress) -> Void)? = nil
    ) {
        self.maxInFlight = maxInFlight
        self.chunkSize = chunkSize
        self.timeout = timeout
        self.progress = progress
    }
}

/// One outcome from ``Executor/mapUnordered(_:options:)``.
public struct JobCompletion<Output: Sendable>: Sendable {
    /// The job's position in the sequence given to `mapUnordered`.
    public var index: Int
    /// The job's value or error.
    public var result: Result<Output, any Error>

    /// Makes a completion.
    public init(index: Int, result: Result<Output, any Error>) {
        self.index = index
        self.result = result
    }
}

extension Executor {
    /// Queues a job with default options and returns its handle. See ``submit(_:options:)``.
    public func submit<J: Job>(_ job: J) throws(ExecutorError) -> JobHandle<J.Output> {
        try submit(job, options: JobOptions())
    }

    /// Runs every job with default options and returns their values in order. See ``map(_:options:)``.
    public func map<S: Sequence>(_ jobs: S) async throws -> [S.Element.Output] where S.Element: Job {
        try await map(jobs, options: MapOptions())
    }

    /// Streams every job's outcome as it completes, with default options. See ``mapUnordered(_:options:)``.
    public func mapUnordered<S: Sequence>(_ jobs: S) -> AsyncStream<JobCompletion<S.Element.Output>>
    where S.Element: Job {
        mapUnordered(jobs, options: MapOptions())
    }

    /// Stops accepting jobs and waits for the queued ones to finish.
    public func shutdown() async {
        await shutdown(wait: true, cancelPending: false)
    }

    /// The default `map`: submits through ``submit(_:options:)`` with a sliding window of jobs in flight.
    public func map<S: Sequence>(_ jobs: S, options: MapOptions) async throws -> [S.Element.Output]
    where S.Element: Job {
        try await SlidingWindowMap.ordered(Array(jobs), on: self, options: options)
    }

    /// The default `mapUnordered`: submits through ``submit(_:options:)`` with a sliding window of jobs in flight.
    public func mapUnordered<S: Sequence>(
        _ jobs: S,
        options: MapOptions
    ) -> AsyncStream<JobCompletion<S.Element.Output>> where S.Element: Job {
        SlidingWindowMap.unordered(Array(jobs), on: self, options: options)
    }
}
