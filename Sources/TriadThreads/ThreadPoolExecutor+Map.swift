import TriadCore

extension ThreadPoolExecutor {
    /// Runs every job on the pool and returns their values in order.
    ///
    /// With no per-job timeout (none in `options` and no ``defaultTimeout``), the map starts a few runner tasks on
    /// the pool, `MapOptions.maxInFlight` of them or four per worker, and each runs job after job, taking the next
    /// one as it finishes the last. No job gets a task, a handle or a queue entry of its own, so a tiny job costs
    /// the pool tens of nanoseconds rather than microseconds, and the work balances itself however long the jobs
    /// take. A runner gives the pool's other work a turn every few dozen jobs. A job that times out must resolve at
    /// once while its thread runs on, so with a timeout each job is submitted as ``submit(_:options:)`` does.
    ///
    /// - Parameters:
    ///   - jobs: The jobs.
    ///   - options: How many jobs run at once, each job's timeout once started, and a progress callback, called
    ///     after each job.
    /// - Returns: The values, in the order of `jobs`.
    /// - Throws: The first error a job throws, which stops the runners from starting more jobs and cancels the
    ///   jobs running; `ExecutorError.Code.cancelled` if the caller is cancelled; `ExecutorError.Code.shutDown` if
    ///   the pool shuts down before every job has started.
    public func map<S: Sequence>(_ jobs: S, options: MapOptions) async throws -> [S.Element.Output]
    where S.Element: Job {
        try await RunnerMap.map(
            Array(jobs), on: self, options: options, timed: isTimed(options), runners: defaultRunners,
            metrics: metrics, startRunner: startRunner
        )
    }

    /// Runs every job on the pool and yields each outcome as it completes, tagged with its index in `jobs`.
    ///
    /// Without a per-job timeout the jobs run on runner tasks, as in ``map(_:options:)``; a failing job's outcome
    /// carries its error and the others go on. If the pool shuts down first, every job not yet started yields
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
            Array(jobs), on: self, options: options, timed: isTimed(options), runners: defaultRunners,
            metrics: metrics, startRunner: startRunner
        )
    }

    private func isTimed(_ options: MapOptions) -> Bool { options.timeout != nil || defaultTimeout != nil }

    /// Four runners per worker by default, so that jobs that suspend overlap as much as `submit`'s would.
    private var defaultRunners: Int { SlidingWindowMap.defaultWindow(workers: workerCount) }

    /// Starts one runner of `run` as work of the pool, so that shutdown counts it; the metrics count its jobs, not
    /// the runner.
    private func startRunner<J: Job>(_ run: RunnerMap<J>) throws(ExecutorError) -> JobHandle<Void> {
        let core = self.core
        return try submitAsync(jobName: J.jobName, timeout: nil, observed: false) {
            await run.runJobs { core.isAcceptingJobs ? nil : ExecutorError.shutDown(jobName: J.jobName) }
        }
    }
}
