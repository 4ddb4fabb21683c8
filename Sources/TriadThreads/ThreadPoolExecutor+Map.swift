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
        let jobs = Array(jobs)
        guard options.timeout == nil, defaultTimeout == nil else {
            return try await SlidingWindowMap.ordered(jobs, on: self, options: options)
        }
        let core = self.core
        return try await RunnerMap.run(
            jobs,
            runners: options.maxInFlight ?? SlidingWindowMap.defaultWindow(workers: workerCount),
            progress: options.progress
        ) { run throws(ExecutorError) in
            try submit(timeout: nil) {
                await run.runJobs { core.isAcceptingJobs ? nil : ExecutorError.shutDown(jobName: S.Element.jobName) }
            }
        }
    }
}
