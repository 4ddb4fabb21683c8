#if MPI
import CoreMetrics
import Logging
import TriadCore

/// How an ``MPIExecutor`` runs jobs on its worker ranks.
public struct MPIExecutorConfiguration: Sendable {
    /// Worker processes of a local Triad process pool on each worker rank; 0 (the default) runs jobs in the rank
    /// itself.
    ///
    /// Open MPI ends the whole run when a rank dies. With a local pool, a job that crashes kills only a worker
    /// process of its rank's pool: the job fails with `ExecutorError.Code.workerCrashed`, as on one machine, and
    /// the run goes on. A job that runs past its timeout is stopped the same way, its worker killed and replaced.
    /// The price is a hop through a local socket for every job and a copy of each job's bytes.
    public var localPoolWorkers: Int

    /// The most messages (single jobs or chunks of a map) in flight to one rank at once. More hide the network's
    /// latency; fewer keep the work balanced. The default is 4.
    public var pipelineDepth: Int

    /// The timeout of jobs submitted without one; `nil` (the default) for none.
    ///
    /// A rank cannot be killed without ending the run, so without a local pool a job that times out resolves its
    /// handle with `ExecutorError.Code.timedOut` at once, and its rank finishes it and drops its result before it
    /// runs the next job. With a local pool, the job's worker process is killed and replaced.
    public var defaultTimeout: Duration?

    /// The largest frame payload (one job, one chunk or one result), in bytes. The default is 1 GiB.
    public var maxFrameSize: Int

    /// The size from which a job's or a result's bytes travel through shared memory between rank 0 and a worker
    /// rank on the same machine, instead of through MPI; `nil` sends everything through MPI. The default is 256 KiB.
    ///
    /// Ranks on one machine share memory the way a process pool shares it with its workers: each side writes large
    /// frames into a segment of its own that the other maps, and the receiver decodes them from there. It takes
    /// one copy on each side, where MPI's transfer between processes and the decoding take two, with fresh pages
    /// on the receiving side each time. Ranks on other machines, and ranks that cannot open each other's memory
    /// (another user, a separate `/proc`), keep using MPI; nothing needs configuring for that.
    public var sharedMemoryThreshold: Int?

    /// The jobs and errors this executor can run; `nil` (the default) for those registered with
    /// `MPICluster.bootstrap(jobs:errors:)` or `ProcessPool.bootstrap(jobs:errors:)`.
    public var registry: JobRegistry?

    /// Where rank 0's executor logs: a shutdown and a job that timed out at `notice`, with `pool` (``name``), `job`,
    /// `code` and `origin` (the rank and host) metadata. By default it logs nothing.
    public var logger: Logger
    /// The executor's name in its logs, as `pool` metadata, and in its metrics, as the `pool` dimension. Defaults to
    /// `"cluster"`.
    public var name: String
    /// Where the executor reports jobs submitted, completed and failed by error code (swift-metrics); `nil` (the
    /// default) for the program's `MetricsSystem.factory`. While that is swift-metrics' no-op default, the executor
    /// records nothing and pays nothing for it.
    public var metricsFactory: (any MetricsFactory)?
    /// The first part of every metric's label, as in `triad_cluster_jobs_submitted_total`. Defaults to
    /// `"triad_cluster"`.
    public var metricsLabelPrefix: String

    /// Makes the default configuration.
    public init() {
        localPoolWorkers = 0
        pipelineDepth = 4
        defaultTimeout = nil
        maxFrameSize = Frame.defaultMaxPayload
        sharedMemoryThreshold = 256 << 10
        registry = nil
        logger = Logger(label: "triad.cluster", factory: { _ in SwiftLogNoOpLogHandler() })
        name = "cluster"
        metricsFactory = nil
        metricsLabelPrefix = "triad_cluster"
    }
}
#endif
