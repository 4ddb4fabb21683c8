import TriadAsync
import TriadCore
import TriadProcesses
import TriadThreads

/// One of the ways `triad compare` can run a workload's jobs.
///
/// Adding a model means adding a case here and an executor factory; every workload then gets a row for it.
enum Model: String, CaseIterable, Codable, Sendable {
    /// One job after another on one dedicated thread: the baseline every speedup is measured against.
    case sequential
    /// Triad's `ThreadPoolExecutor`: preemptive OS threads in one process, no GIL.
    case threads
    /// Triad's `ProcessPoolExecutor`: worker processes with isolated memory.
    case processes
    /// Triad's `EventLoopExecutor`: many jobs at once as tasks on one event-loop thread, as asyncio runs them.
    case async
    /// Triad's `MPIExecutor`: the ranks of an MPI run. Only on request (`--models mpi`), under `mpirun`, in a
    /// `triad` built with the `MPI` trait.
    case mpi

    /// The models a run measures unless `--models` says otherwise: all but `mpi`, which needs `mpirun`.
    static var defaults: [Model] { allCases.filter { $0 != .mpi } }

    /// What the model is, for `--help` and the report.
    var summary: String {
        switch self {
        case .sequential: "one job at a time on one thread"
        case .threads: "ThreadPoolExecutor: OS threads in one process"
        case .processes: "ProcessPoolExecutor: worker processes running registered jobs"
        case .async: "EventLoopExecutor: tasks on one event-loop thread"
        case .mpi: "MPIExecutor: the ranks of an MPI run (under mpirun)"
        }
    }

    /// Makes the model's executor with `workers` workers. The caller shuts it down.
    func makeExecutor(workers: Int) -> any Executor {
        switch self {
        case .sequential: ThreadPoolExecutor(workers: 1)
        case .threads: ThreadPoolExecutor(workers: workers)
        case .processes: ProcessPoolExecutor(workers: workers)
        // The CPU-bound row blocks the loop on purpose, to show it; the watchdog would only repeat that.
        case .async: EventLoopExecutor(maxConcurrent: workers, options: AsyncLoop.Options(watchdogThreshold: nil))
        // One executor for the whole run, whatever `workers` says: MPI starts once per process, and the ranks are
        // what mpirun started.
        case .mpi: MPIModel.executor()
        }
    }

    /// Whether jobs go to the executor one at a time rather than all at once.
    var isSequential: Bool { self == .sequential }

    /// Whether the lab's Python side has this model (it has no MPI).
    var runsInPython: Bool { self != .mpi }
}

/// Every job `triad compare` may send to a worker process. `triad`'s `main` registers them before anything else,
/// so that a copy of `triad` started as a worker can run them.
let compareJobs: [any Job.Type] = [
    CountPrimesJob.self, BlockingIOJob.self, TinyJob.self, FetchJob.self, MoveDataJob.self, WriteGlobalJob.self,
    WriteSharedByteJob.self,
]
