import TriadCore
import TriadProcesses
import TriadThreads

/// A workload `triad compare` can run under several models.
///
/// A workload makes its jobs and checks their results; the runner creates each model's executor, measures it and
/// shuts it down. Adding a workload means adding a type here and listing it in ``Workloads/all``.
protocol Workload: Sendable {
    /// The short name used on the command line and in the report, such as `cpu`.
    var name: String { get }
    /// What the workload does, in a phrase.
    var summary: String { get }
    /// The models this workload has rows for.
    var models: [Model] { get }
    /// The worker count to use for `model` on a machine with `cores` cores when the user names none.
    func defaultWorkers(for model: Model, cores: Int) -> Int
    /// Runs the workload on `model` with `workers` workers, calling `progress` as jobs finish.
    func run(model: Model, workers: Int, progress: @escaping @Sendable (MapProgress) -> Void) async throws
        -> WorkloadOutcome
    /// The size of the work in words, such as "primes below 5000000", for Swift or for Python.
    func size(python: Bool) -> String
    /// The parameters of the same workload for the lab's Python script; `nil` when it has no Python peer.
    var pythonParameters: [String: Double]? { get }
    /// Calls `body` with the Python parameters while whatever the Python run needs, such as a server, is up.
    func withPythonParameters<T>(_ body: ([String: Double]) async throws -> T) async throws -> T
}

extension Workload {
    func withPythonParameters<T>(_ body: ([String: Double]) async throws -> T) async throws -> T {
        try await body(pythonParameters ?? [:])
    }
}

/// What a workload run produced, beside the runner's own measurements.
struct WorkloadOutcome: Sendable {
    /// Jobs run.
    var jobs: Int
    /// Time spent inside the jobs' `run()`, summed over jobs.
    var busyNanoseconds: Int64
    /// A value every model must agree on, such as the number of primes found.
    var checksum: Int
    /// The summed peak resident sets of the worker processes, for models that have them.
    var workerPeakRSS: Int?
}

/// Every workload, in report order.
enum Workloads {
    static func all(scale: Double) -> [any Workload] {
        [
            PrimeCountWorkload(scale: scale),
            BlockingIOWorkload(scale: scale),
            HTTPFetchWorkload(scale: scale),
            TinyJobWorkload(scale: scale),
            DataMovementWorkload(scale: scale, throughSharedMemory: true),
            DataMovementWorkload(scale: scale, throughSharedMemory: false),
            StartupWorkload(),
        ]
    }
}

/// The outputs of a run, and the worker processes' summed peak memory where there were any.
struct JobRun<Output> {
    var outputs: [Output]
    var workerPeakRSS: Int?
}

/// Runs `jobs` on `model` and returns their outputs in order. The executor is created and shut down inside, so
/// its start-up and shutdown count in the measurement, as they would in a program.
func runJobs<J: Job>(
    _ jobs: [J],
    on model: Model,
    workers: Int,
    progress: @escaping @Sendable (MapProgress) -> Void
) async throws -> JobRun<J.Output> {
    let executor = model.makeExecutor(workers: workers)
    do {
        let outputs: [J.Output]
        if model.isSequential, let thread = executor as? ThreadPoolExecutor {
            // A plain loop in one task on one dedicated thread, as a Python script's for loop: no hand-off
            // between jobs, so it is the true baseline.
            outputs = try await withTaskExecutorPreference(thread) {
                var collected: [J.Output] = []
                collected.reserveCapacity(jobs.count)
                for job in jobs {
                    try Task.checkCancellation()
                    collected.append(try await job.run())
                    progress(MapProgress(completed: collected.count, total: jobs.count))
                }
                return collected
            }
        } else {
            outputs = try await executor.map(jobs, options: MapOptions(progress: progress))
        }
        // Worker processes are read before shutdown, while their peaks are still in /proc.
        let workerPeakRSS = (executor as? ProcessPoolExecutor).map {
            $0.workerPIDs.reduce(0) { $0 + ResourceUsage.peakRSS(pid: $1) }
        }
        await executor.shutdown(wait: true, cancelPending: false)
        return JobRun(outputs: outputs, workerPeakRSS: workerPeakRSS)
    } catch {
        await executor.shutdown(wait: true, cancelPending: true)
        throw error
    }
}
