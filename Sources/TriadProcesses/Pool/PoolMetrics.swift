import CoreMetrics
import Synchronization
import TriadCore

/// The process pool's metrics, reported through swift-metrics.
///
/// Labels start with ``ProcessPoolConfiguration/metricsLabelPrefix`` (`triad_pool` by default) and carry the
/// pool's ``ProcessPoolConfiguration/name`` as the `pool` dimension; per-job metrics add the job's registered name
/// as `job`, never its arguments, so the number of series stays small.
///
/// | label | kind | dimensions |
/// |---|---|---|
/// | `<prefix>_jobs_submitted_total` | counter | pool, job |
/// | `<prefix>_jobs_completed_total` | counter | pool, job |
/// | `<prefix>_jobs_failed_total` | counter | pool, job, code |
/// | `<prefix>_worker_restarts_total` | counter | pool |
/// | `<prefix>_queue_depth` | gauge | pool |
/// | `<prefix>_messages_in_flight` | gauge | pool |
/// | `<prefix>_workers_live` | gauge | pool |
/// | `<prefix>_job_wait_seconds` | timer | pool, job |
/// | `<prefix>_job_run_seconds` | timer | pool, job |
///
/// `code` is the `ExecutorError.Code` a job failed with, or `jobError` for an error the job threw itself.
package final class PoolMetrics: Sendable {
    private let factory: any MetricsFactory
    private let prefix: String
    private let pool: String
    private let perJob = Mutex<[String: JobMetrics]>([:])
    private let failures = Mutex<[FailureKey: Counter]>([:])
    let restarts: Counter
    let queueDepth: Gauge
    let inFlight: Gauge
    let liveWorkers: Gauge

    /// The code of an error that a job threw itself, rather than one the pool reported.
    static let jobErrorCode = "jobError"

    private struct FailureKey: Hashable {
        var job: String
        var code: String
    }

    /// The metrics of one job type.
    final class JobMetrics: Sendable {
        let submitted: Counter
        let completed: Counter
        let wait: CoreMetrics.Timer
        let run: CoreMetrics.Timer

        fileprivate init(prefix: String, dimensions: [(String, String)], factory: any MetricsFactory) {
            submitted = Counter(label: prefix + "_jobs_submitted_total", dimensions: dimensions, factory: factory)
            completed = Counter(label: prefix + "_jobs_completed_total", dimensions: dimensions, factory: factory)
            wait = CoreMetrics.Timer(label: prefix + "_job_wait_seconds", dimensions: dimensions, factory: factory)
            run = CoreMetrics.Timer(label: prefix + "_job_run_seconds", dimensions: dimensions, factory: factory)
        }
    }

    /// The metrics of a pool configured so, or nil when the pool has nowhere to report: no factory configured and
    /// swift-metrics' process-wide one the no-op default. A pool without metrics pays nothing for them.
    static func make(_ configuration: ProcessPoolConfiguration) -> PoolMetrics? {
        let factory = configuration.metricsFactory ?? MetricsSystem.factory
        if factory is NOOPMetricsHandler { return nil }
        return PoolMetrics(factory: factory, prefix: configuration.metricsLabelPrefix, pool: configuration.name)
    }

    private init(factory: any MetricsFactory, prefix: String, pool: String) {
        self.factory = factory
        self.prefix = prefix
        self.pool = pool
        let dimensions = [("pool", pool)]
        restarts = Counter(label: prefix + "_worker_restarts_total", dimensions: dimensions, factory: factory)
        queueDepth = Gauge(label: prefix + "_queue_depth", dimensions: dimensions, factory: factory)
        inFlight = Gauge(label: prefix + "_messages_in_flight", dimensions: dimensions, factory: factory)
        liveWorkers = Gauge(label: prefix + "_workers_live", dimensions: dimensions, factory: factory)
    }

    /// The metrics of the job named `jobName`, made at its first use.
    func job(_ jobName: String) -> JobMetrics {
        perJob.withLock { table in
            if let metrics = table[jobName] { return metrics }
            let metrics = JobMetrics(prefix: prefix, dimensions: [("pool", pool), ("job", jobName)], factory: factory)
            table[jobName] = metrics
            return metrics
        }
    }

    /// Counts `count` jobs named `jobName` that failed with `error`.
    func failed(_ jobName: String, _ error: any Error, count: Int = 1) {
        let code = (error as? ExecutorError)?.code.rawValue ?? Self.jobErrorCode
        failed(jobName, code: code, count: count)
    }

    /// Counts `count` jobs named `jobName` that failed with the error code `code`.
    func failed(_ jobName: String, code: String, count: Int = 1) {
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
}
