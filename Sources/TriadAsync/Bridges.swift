import NIOCore
import NIOPosix
import TriadCore

extension AsyncLoop {
    /// Runs a blocking closure on a thread of NIO's blocking thread pool and resumes the caller on the loop when
    /// it returns: the analogue of `asyncio.to_thread`. The loop keeps running other tasks meanwhile.
    ///
    /// A thread cannot be interrupted, so cancelling the caller does not stop a closure that has started; a
    /// closure still queued is skipped and the call throws `CancellationError`.
    ///
    /// - Parameter body: The blocking work.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws; `CancellationError` if cancelled before it started;
    ///   ``AsyncLoopError/Code/threadPoolUnavailable`` if the pool is shut down.
    public func toThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await NIOThreadPool.singleton.runIfActive(body)
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            throw AsyncLoopError(
                .threadPoolUnavailable,
                message: "the blocking thread pool is shut down, so the closure did not run"
            )
        }
    }

    /// Runs a Triad `Job` on any executor (a thread pool, a process pool, another loop) and resumes the caller on
    /// this loop with its value: the analogue of `loop.run_in_executor`.
    ///
    /// Cancelling the caller cancels the job.
    ///
    /// - Parameters:
    ///   - job: The job.
    ///   - executor: Where it runs.
    ///   - options: Per-job options, such as a timeout.
    /// - Returns: The job's value.
    /// - Throws: What the executor's handle throws: the job's error, or an `ExecutorError`.
    public func runInExecutor<J: Job, E: TriadCore.Executor>(
        _ job: J,
        on executor: E,
        options: JobOptions = JobOptions()
    ) async throws -> J.Output {
        try await executor.submit(job, options: options).value
    }
}
