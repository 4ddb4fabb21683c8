import CoreMetrics
import Logging

// What the in-process executors (the thread pool, the loop's executor) log and count about each job and about
// their shutdown, in one place so that they say it the same way.

/// Counts a job that is being submitted in `metrics`, and logs its failure at `debug`, if either wants it; returns
/// when it was submitted, for its wait, or nil when nothing measures it. A logger above `debug` and no metrics cost
/// a level check and a nil check.
package func observeSubmission<T: Sendable>(
    of handle: JobHandle<T>,
    logger: Logger,
    metrics: ExecutorMetrics?
) -> ContinuousClock.Instant? {
    if logger.logLevel <= .debug {
        handle.whenComplete { result in
            guard case .failure(let error) = result else { return }
            let code = (error as? ExecutorError)?.code.rawValue ?? ExecutorMetrics.jobErrorCode
            logger.debug("job failed: \(error)", metadata: ["job": "\(handle.jobName)", "code": "\(code)"])
        }
    }
    guard let metrics else { return nil }
    metrics.job(handle.jobName).submitted.increment()
    metrics.countOutcome(of: handle)
    return .now
}

extension Logger {
    /// Logs, at `notice`, the start of an executor's shutdown: how many jobs it drops or finishes, and how many
    /// are running.
    package func shutdownBegan(cancelPending: Bool, queued: Int, running: Int) {
        notice(
            """
            shutting down: \(cancelPending ? "dropping" : "finishing") \(queued) queued jobs, \
            finishing \(running) running
            """,
            metadata: ["queued": "\(queued)", "running": "\(running)", "cancelPending": "\(cancelPending)"]
        )
    }
}
