import TriadCore

/// The start-up workload: an executor made, one tiny job run to its result, the executor shut down. It is what a
/// pool costs before it does any work, the first half of claim 8.
struct StartupWorkload: Workload {
    let name = "startup"
    let summary = "an executor made, one tiny job to its result, the executor shut down"
    // Not `mpi`: MPI starts once per process, so a cluster's start-up is mpirun's (see ClusterTimings).
    let models: [Model] = Model.defaults

    func defaultWorkers(for model: Model, cores: Int) -> Int { model.isSequential ? 1 : cores }

    func size(python: Bool) -> String { "1 job" }

    var pythonParameters: [String: Double]? { [:] }

    func run(model: Model, workers: Int, progress: @escaping @Sendable (MapProgress) -> Void) async throws
        -> WorkloadOutcome
    {
        let run = try await runJobs([TinyJob(value: 1)], on: model, workers: workers, progress: progress)
        return WorkloadOutcome(
            jobs: 1, busyNanoseconds: 0, checksum: run.outputs.reduce(0) { $0 + $1.value },
            workerPeakRSS: run.workerPeakRSS
        )
    }
}
