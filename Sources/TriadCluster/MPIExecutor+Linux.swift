#if MPI && os(Linux)
import Glibc
import Synchronization
import TriadCore
import TriadProcesses

/// An executor whose workers are the ranks of an MPI run, like mpi4py's `MPIPoolExecutor` in its fixed-size mode:
/// `mpirun -n N program` starts N copies of the program, rank 0 runs the program and this executor, and ranks 1
/// to N−1 run its jobs.
///
/// ```swift
/// @main struct App {
///     static func main() async throws {
///         MPICluster.bootstrap(jobs: [CountPrimes.self])   // worker ranks serve jobs here and never return
///         let executor = try MPIExecutor()                 // rank 0 only
///         let counts = try await executor.map((0..<100).map { CountPrimes(range: $0 * 10_000..<($0 + 1) * 10_000) })
///         await executor.shutdown()
///     }
/// }
/// ```
///
/// Jobs are registered `Job`s, as for a process pool, and travel in the same wire format, run by the same worker
/// loop. What it guarantees:
/// - **Errors come back typed.** A job's registered error comes back as itself; any other as a `RemoteJobError`
///   whose `origin` names the rank and the host. Timeouts and lost workers come back as `ExecutorError`, naming
///   the rank and the host.
/// - **No hang at shutdown.** ``shutdown(wait:cancelPending:)`` drains the ranks, stops them and finalises MPI;
///   a program that ends without it is shut down at exit.
/// - **A crash ends the run fast and says where.** Open MPI ends the whole run when a rank dies: the dying rank
///   names itself, its host and its job on stderr, `mpirun` exits with a non-zero status, and no process is left.
///   With ``MPIExecutorConfiguration/localPoolWorkers`` a crashing job kills only a local worker process instead,
///   and fails alone with `ExecutorError.Code.workerCrashed`.
///
/// One thread owns MPI in each process; jobs are submitted and resolved without blocking a task. MPI starts once
/// per process and cannot start again after it is finalised, so make one executor per run.
public final class MPIExecutor: Executor {
    let storage: ClusterStorage

    /// The number of worker ranks: the world's size minus rank 0.
    public var workerCount: Int { max(1, storage.engine.world.size - 1) }

    /// Whether rank 0 sends large frames to `rank` through shared memory (the rank is on this machine and the two
    /// have set up their lanes), for tests.
    package func sharesMemory(with rank: Int) -> Bool {
        storage.engine.lanes.sendsThroughLanes(to: rank)
    }

    /// How many messages rank 0 has sent, and received, with frames in shared memory, all ranks together, for tests.
    package var messagesThroughSharedMemory: (sent: Int, received: Int) {
        storage.engine.lanes.messagesThroughLanes
    }

    /// This host's name, as MPI reports it.
    public var host: String { storage.engine.world.host }

    /// The hosts of the worker ranks, by rank, as far as they have said hello; rank 0 is not included.
    public var rankHosts: [Int: String] {
        storage.state.withLock { state in
            Dictionary(uniqueKeysWithValues: state.slots.map { ($0.rank, $0.host) })
        }
    }

    /// Starts the executor on rank 0 with the default configuration. See ``init(configuration:)``.
    ///
    /// - Throws: ``ClusterError`` as ``init(configuration:)`` does.
    public convenience init() throws(ClusterError) {
        try self.init(configuration: MPIExecutorConfiguration())
    }

    /// Starts the executor on rank 0: it tells every worker rank how to run jobs and sends jobs as they come.
    ///
    /// It also makes SIGINT and SIGTERM end rank 0 with a line on stderr naming the job each rank was running:
    /// `mpirun` sends SIGTERM to every rank when one dies or when it is interrupted.
    ///
    /// - Parameter configuration: Local pools, pipelining, the default timeout and the registry.
    /// - Throws: ``ClusterError`` with ``ClusterError/Code/notEnoughRanks`` outside `mpirun` or with one rank,
    ///   ``ClusterError/Code/notRankZero`` on a worker rank of a program that did not call
    ///   ``MPICluster/bootstrap(jobs:errors:)``, ``ClusterError/Code/finalized`` after an earlier executor's
    ///   shutdown, and ``ClusterError/Code/mpiFailed`` when MPI cannot start.
    public init(configuration: MPIExecutorConfiguration) throws(ClusterError) {
        let engine = try MPIEngine.shared.get()
        guard !engine.isFinished else { throw .finalized() }
        guard engine.world.rank == 0 else { throw .notRankZero(rank: engine.world.rank) }
        guard engine.world.size >= 2 else { throw .notEnoughRanks(size: engine.world.size) }
        let registry = configuration.registry ?? ProcessPool.registry
        storage = ClusterStorage(engine: engine, configuration: configuration, registry: registry)
        try MPIExecutor.claim(storage)
        installClusterSignalHandlers()
        storage.start()
    }

    /// Queues a job for a worker rank and returns its handle at once.
    ///
    /// - Parameters:
    ///   - job: The job; its type must be registered.
    ///   - options: Per-job options. A `timeout` resolves the handle with `ExecutorError.Code.timedOut` when the
    ///     job runs past it (see ``MPIExecutorConfiguration/defaultTimeout`` for what happens to the rank).
    /// - Returns: The job's handle. Cancelling it removes a queued job; a running one is left to finish on its
    ///   rank, its result dropped, unless the ranks run local pools, which kill its worker process.
    /// - Throws: `ExecutorError` with `ExecutorError.Code.unknownJob` for an unregistered job type,
    ///   `ExecutorError.Code.codingFailed` for a job that cannot be encoded or is larger than the frame limit, and
    ///   `ExecutorError.Code.shutDown` after shutdown. A job that fails on its rank does not make `submit` throw.
    public func submit<J: Job>(_ job: J, options: JobOptions) throws(ExecutorError) -> JobHandle<J.Output> {
        let (work, handle) = try PoolSubmission.single(
            job, named: try registeredName(of: J.self), sequence: storage.nextSequence(),
            maxFrameSize: storage.configuration.maxFrameSize, timeout: options.timeout, registry: storage.registry,
            metrics: storage.metrics, owner: storage
        )
        try PoolSubmission.enqueue(single: work, handle: handle, into: storage)
        return handle
    }

    /// Stops accepting jobs and, optionally, waits for the queued ones, then stops the worker ranks and finalises
    /// MPI.
    ///
    /// The ranks are stopped once every job sent to them has finished, including jobs whose handles already
    /// resolved with a timeout or a cancellation (a rank finishes what it started). A program that ends without a
    /// shutdown gets one at exit, which waits ten seconds for such jobs and then ends the run with `MPI_Abort`,
    /// naming them, rather than hang.
    ///
    /// - Parameters:
    ///   - wait: Whether to return only once every remaining job has finished, every worker rank has stopped and
    ///     MPI is finalised. Without it, all that still happens, in the background.
    ///   - cancelPending: Whether to cancel the jobs not sent to a rank yet; their handles resolve with
    ///     `ExecutorError.Code.cancelled`.
    ///
    /// Shutting down twice is not an error.
    public func shutdown(wait: Bool, cancelPending: Bool) async {
        await storage.shutdown(wait: wait, cancelPending: cancelPending)
    }

    /// Whether the executor still accepts jobs: false from the moment a shutdown begins.
    public var isAcceptingJobs: Bool { !storage.isShutDown }

    func registeredName<J: Job>(of type: J.Type) throws(ExecutorError) -> String {
        guard storage.registry.contains(jobName: J.jobName) else {
            throw ExecutorError(
                .unknownJob,
                jobName: J.jobName,
                message: "the job is not registered, so no rank could run it; add \(J.self).self to the jobs of "
                    + "MPICluster.bootstrap(jobs:errors:), the first statement of main"
            )
        }
        return J.jobName
    }

    /// Queues a map's chunk `work`, letting cancelling `handle` drop the work.
    func enqueue<Output: Sendable>(_ work: consuming PoolWork, handle: JobHandle<Output>) throws(ExecutorError) {
        try PoolSubmission.enqueue(work, handle: handle, metrics: storage.metrics, into: storage)
    }

    // MARK: - One per process

    private static let current = Mutex<ClusterStorage?>(nil)

    /// Records the executor of this process, and makes the process shut it down at exit.
    private static func claim(_ storage: ClusterStorage) throws(ClusterError) {
        let first = current.withLock { current -> Bool in
            defer { current = storage }
            return current == nil
        }
        if first {
            atexit {
                MPIExecutor.current.withLock { $0 }?.shutdownAtExit()
            }
        }
    }
}
#endif
