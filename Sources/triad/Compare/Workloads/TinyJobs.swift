import TriadCore

/// A job that does almost nothing, so that a run of them measures the executor's cost per job.
struct TinyJob: Job {
    static var jobName: String { "triad.compare.tiny" }

    var value: Int

    func run() async throws -> Timed<Int> {
        Timed(value: value &* 2, nanoseconds: 0)
    }
}

/// The overhead workload: many tiny jobs through `map`, so wall time per job is the executor's own cost:
/// hand-off, wake-ups and, for processes, encoding and the pipe.
struct TinyJobWorkload: Workload {
    let name = "tiny"
    let summary = "tiny jobs that return at once: the executor's cost per job"
    let models: [Model] = Model.allCases
    let jobCount: Int

    init(scale: Double) {
        jobCount = max(100, Int(50_000 * scale))
    }

    init(jobs: Int) {
        jobCount = jobs
    }

    func size(python: Bool) -> String { "\(jobCount) jobs" }

    var pythonParameters: [String: Double]? { ["jobs": Double(jobCount)] }

    func defaultWorkers(for model: Model, cores: Int) -> Int {
        switch model {
        case .sequential: 1
        case .threads, .processes, .mpi: cores
        case .async: 64
        }
    }

    func run(model: Model, workers: Int, progress: @escaping @Sendable (MapProgress) -> Void) async throws
        -> WorkloadOutcome
    {
        let jobs = (0..<jobCount).map { TinyJob(value: $0) }
        let run = try await runJobs(jobs, on: model, workers: workers, progress: progress)
        return WorkloadOutcome(
            jobs: jobs.count,
            busyNanoseconds: 0,
            checksum: run.outputs.reduce(0) { $0 &+ $1.value },
            workerPeakRSS: run.workerPeakRSS
        )
    }
}
