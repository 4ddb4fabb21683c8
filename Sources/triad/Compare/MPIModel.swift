#if MPI
import TriadCluster
#endif
import TriadCore
import TriadProcesses

/// The `mpi` model of `triad compare`: one `MPIExecutor` for the whole run, under `mpirun`, in a `triad` built with
/// the `MPI` trait. Everywhere else it says how to start it.
enum MPIModel {
    /// Registers the lab's jobs; under mpirun, makes every rank but rank 0 serve them.
    static func bootstrap(jobs: [any Job.Type]) {
        #if MPI
        MPICluster.bootstrap(jobs: jobs)
        #else
        ProcessPool.bootstrap(jobs: jobs)
        #endif
    }

    /// Why the `mpi` model cannot run here, with how to start it; nil when it can.
    static var unavailable: String? {
        #if MPI
        if !MPICluster.isUnderMPI {
            return "the mpi model runs under mpirun: start `mpirun -n 4 triad compare --models mpi` "
                + "(add --oversubscribe for more ranks than cores)"
        }
        return nil
        #else
        return "this triad was built without MPI: build it with `swift build -c release --traits MPI`, then start "
            + "`mpirun -n 4 .build/release/triad compare --models mpi`"
        #endif
    }

    /// The run's executor, made on first use.
    static func executor() -> any Executor {
        #if MPI
        switch shared {
        case .success(let executor): return executor
        case .failure(let error): preconditionFailure("the mpi model could not start: \(error)")
        }
        #else
        preconditionFailure("the mpi model needs a triad built with the MPI trait")
        #endif
    }

    #if MPI
    private static let shared: Result<SharedExecutor, ClusterError> = Result { () throws(ClusterError) in
        SharedExecutor(try MPIExecutor())
    }

    /// The MPI executor for one row after another: a row's shutdown leaves it running, since MPI cannot start
    /// again; it shuts down at exit.
    final class SharedExecutor: Executor {
        let base: MPIExecutor

        init(_ base: MPIExecutor) { self.base = base }

        var workerCount: Int { base.workerCount }

        func submit<J: Job>(_ job: J, options: JobOptions) throws(ExecutorError) -> JobHandle<J.Output> {
            try base.submit(job, options: options)
        }

        func map<S: Sequence>(_ jobs: S, options: MapOptions) async throws -> [S.Element.Output]
        where S.Element: Job {
            try await base.map(jobs, options: options)
        }

        func mapUnordered<S: Sequence>(
            _ jobs: S,
            options: MapOptions
        ) -> AsyncStream<JobCompletion<S.Element.Output>> where S.Element: Job {
            base.mapUnordered(jobs, options: options)
        }

        func shutdown(wait: Bool, cancelPending: Bool) async {}
    }
    #endif
}
