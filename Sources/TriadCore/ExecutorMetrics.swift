import CoreMetrics
import Synchronization

/// An executor's metrics, reported through swift-metrics: what the process pool, the thread pool and the loop's
/// executor share.
///
/// Labels start with the executor's prefix (`triad_pool`, `triad_threads`, `triad_loop_jobs` by default) and carry
/// the executor's name as the `pool` dimension; per-job metrics add the job's registered name as `job`, never its
/// arguments, so the number of series stays small.
///
/// | label | kind | dimensions |
/// |---|---|---|
/// | `<prefix>_jobs_submitted_total` | counter | pool, job |
/// | `<prefix>_jobs_completed_total` | counter | pool, job |
/// | `<prefix>_jobs_failed_total` | counter | pool, job, code |
/// | `<prefix>_queue_depth` | gauge | pool |
/// | `<prefix>_<in flight>` | gauge | pool |
/// | `<prefix>_workers_live` | gauge | pool (executors with workers of their own) |
/// | `<prefix>_job_wait_seconds` | timer | pool, job |
/// | `<prefix>_job_run_seconds` | timer | pool, job |
/// | `<prefix>_worker_restarts_total` | counter | pool (executors that restart workers) |
///
/// `code` is the `ExecutorError.Code` a job failed with, or `jobError` for an error the job threw itself.
package final class ExecutorMetrics: Sendable {
    private let factory: any MetricsFactory
    private let prefix: String
    private let pool: String
    private let perJob = Mutex<[String: JobMetrics]>([:])
    private let failures = Mutex<[FailureKey: Counter]>([:])
    /// Workers replaced after a crash, a timeout or a limit; `nil` for an executor whose workers never restart.
    package let restarts: Counter?
    package let queueDepth: Gauge
    package let inFlight: Gauge
    /// The workers alive; `nil` for an executor without workers of its own, such as the loop's.
    package let liveWorkers: Gauge?

    /// The code of an error that a job threw itself, rather than one the executor reported.
    package static let jobErrorCode = "jobError"

    private struct FailureKey: Hashable {
        var job: String
        var code: String
    }

    /// The metrics of one job type.
    package final class JobMetrics: Sendable {
        package let submitted: Counter
        package let completed: Counter
        package let wait: CoreMetrics.Timer
        package let run: CoreMetrics.Timer

        fileprivate init(prefix: String, dimensions: [(String, String)], factory: any MetricsFactory) {
            submitted = Counter(label: prefix + "_jobs_submitted_total", dimensions: dimensions, factory: factory)
            completed = Counter(label: prefix + "_jobs_completed_total", dimensions: dimensions, factory: factory)
            wait = CoreMetrics.Timer(label: prefix + "_job_wait_seconds", dimensions: dimensions, factory: factory)
            run = CoreMetrics.Timer(label: prefix + "_job_run_seconds", dimensions: dimensions, factory: factory)
        }
    }

    /// The metrics of an executor, or nil when it has nowhere to report: `factory` is nil and swift-metrics'
    /// process-wide factory is the no-op default. An executor without metrics pays nothing for them.
    ///
    /// - Parameters:
    ///   - factory: The executor's own factory, or nil for `MetricsSystem.factory`.
    ///   - prefix: The first part of every label.
    ///   - name: The executor's name, the `pool` dimension.
    ///   - inFlight: The last part of the in-flight gauge's label: what the executor has under way.
    ///   - workers: Whether the executor has workers of its own, and so counts them.
    ///   - restarts: Whether the executor restarts workers, and so counts restarts.
    package static func make(
        factory: (any MetricsFactory)?,
        prefix: String,
        name: String,
        inFlight: String = "jobs_running",
        workers: Bool = true,
        restarts: Bool = false
    ) -> ExecutorMetrics? {
        let factory = factory ?? MetricsSystem.factory
        if factory is NOOPMetricsHandler { return nil }
        return ExecutorMetrics(
            factory: factory, prefix: prefix, pool: name, inFlight: inFlight, workers: workers, restarts: restarts
        )
    }

    private init(
        factory: any MetricsFactory,
        prefix: String,
        pool: String,
        inFlight: String,
        workers: Bool,
        restarts: Bool
    ) {
        self.factory = factory
        self.prefix = prefix
        self.pool = pool
        let dimensions = [("pool", pool)]
        self.restarts =
            restarts ? Counter(label: prefix + "_worker_restarts_total", dimensions: dimensions, factory: factory) : nil
        queueDepth = Gauge(label: prefix + "_queue_depth", dimensions: dimensions, factory: factory)
        self.inFlight = Gauge(label: prefix + "_" + inFlight, dimensions: dimensions, factory: factory)
        liveWorkers = workers ? Gauge(label: prefix + "_workers_live", dimensions: dimensions, factory: factory) : nil
    }

    /// The metrics of the job named `jobName`, made at its first use.
    package func job(_ jobName: String) -> JobMetrics {
        perJob.withLock { table in
            if let metrics = table[jobName] { return metrics }
            let metrics = JobMetrics(prefix: prefix, dimensions: [("pool", pool), ("job", jobName)], factory: factory)
            table[jobName] = metrics
            return metrics
        }
    }

    /// Counts `count` jobs named `jobName` that failed with `error`.
    package func failed(_ jobName: String, _ error: any Error, count: Int = 1) {
        let code = (error as? ExecutorError)?.code.rawValue ?? Self.jobErrorCode
        failed(jobName, code: code, count: count)
    }

    /// Counts `count` jobs named `jobName` that failed with the error code `code`.
    package func failed(_ jobName: String, code: String, count: Int = 1) {
        guard count > 0 else { return }
        let key = FailureKey(job: jobName, code: code)
        let counter = failures.withLock { table in
            if let counter = table[key] { return counter }
            let counter = Counter(
                label: prefix + "_jobs_failed_total",
                dimensions: [("pool", pool), ("job", jobName), ("code", code)],
                factory: factory
            )
            table[key] = counter
            return counter
        }
        counter.increment(by: count)
    }

    /// Counts how `handle`'s job ended, once it resolves: completed, or failed by its error's code.
    package func countOutcome<Output: Sendable>(of handle: JobHandle<Output>) {
        handle.whenComplete { [self] result in
            switch result {
            case .success: job(handle.jobName).completed.increment()
            case .failure(let error): failed(handle.jobName, error)
            }
        }
    }
}
