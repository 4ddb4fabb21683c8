#if MPI && os(Linux)
import Glibc
import TriadCore
import TriadProcesses

/// The entry point of a program that runs on an MPI cluster: registers its jobs, and turns every rank but rank 0
/// into a worker.
///
/// Call ``bootstrap(jobs:errors:)`` as the **first statement of `main`**, where a process pool's program calls
/// `ProcessPool.bootstrap(jobs:errors:)`: it does all that call does (a worker process of a rank's local pool is
/// made a worker there), and under `mpirun` it also makes ranks 1…N−1 serve jobs until rank 0's executor shuts
/// down, then exit. Only rank 0 returns from it.
///
/// ```swift
/// MPICluster.bootstrap(jobs: [CountPrimes.self])
/// let executor = try MPIExecutor()
/// ```
///
/// For code that must run on every rank, use ``withExecutor(configuration:_:)`` instead, the `MPICommExecutor`
/// idiom: rank 0 gets an executor, the other ranks serve jobs, and every rank returns.
public enum MPICluster {
    /// Registers `jobs` and `errors`; on a worker rank under `mpirun`, serves jobs and exits; on rank 0 (and
    /// outside `mpirun`) returns at once.
    ///
    /// - Parameters:
    ///   - jobs: Every job type the program submits.
    ///   - errors: `Codable` error types that jobs throw and that should come back as themselves.
    ///
    /// Calling it more than once adds to the registry; that is not an error. A worker rank that cannot start MPI
    /// prints why and exits with status 70.
    public static func bootstrap(jobs: [any Job.Type], errors: [any (Error & Codable).Type] = []) {
        ProcessPool.bootstrap(jobs: jobs, errors: errors)
        guard isUnderMPI else { return }
        switch MPIEngine.shared {
        case .success(let engine) where engine.world.rank != 0:
            RankWorker(engine: engine, registry: ProcessPool.registry).run()
        case .success:
            return
        case .failure(let error):
            let line = "triad: MPI could not start: \(error)\n"
            _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
            exit(70)
        }
    }

    /// Runs `body` with an executor on rank 0 and serves jobs on every other rank; returns on every rank once
    /// rank 0's `body` has returned and the executor has shut down. It is mpi4py's `MPICommExecutor` idiom, with
    /// `body` called on rank 0 only instead of being handed `nil` elsewhere.
    ///
    /// - Parameters:
    ///   - configuration: The executor's configuration.
    ///   - body: The work of rank 0.
    /// - Returns: `body`'s value on rank 0; `nil` on the worker ranks.
    /// - Throws: ``ClusterError`` when MPI cannot start or the world has one rank; whatever `body` throws.
    public static func withExecutor<T>(
        configuration: MPIExecutorConfiguration = MPIExecutorConfiguration(),
        _ body: (MPIExecutor) async throws -> T
    ) async throws -> T? {
        let engine = try MPIEngine.shared.get()
        if engine.world.rank != 0 {
            await RankWorker(engine: engine, registry: configuration.registry ?? ProcessPool.registry).serve()
            return nil
        }
        let executor = try MPIExecutor(configuration: configuration)
        do {
            let value = try await body(executor)
            await executor.shutdown()
            return value
        } catch {
            await executor.shutdown(wait: true, cancelPending: true)
            throw error
        }
    }

    /// This process's rank, or `nil` when it was not started by `mpirun` (or `srun`). Reads the launcher's
    /// environment and does not start MPI.
    public static var rank: Int? {
        for key in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"] {
            if let value = getenv(key), let rank = Int(String(cString: value)) { return rank }
        }
        return nil
    }

    /// Whether a launcher (`mpirun`, `srun`) started this process.
    public static var isUnderMPI: Bool { rank != nil }
}
#endif
