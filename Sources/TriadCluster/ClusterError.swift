#if MPI
/// An error of the cluster itself, as opposed to one of a job: MPI could not start, or the run has too few ranks.
///
/// Errors of jobs that ran on the cluster come back as on one machine: the job's own error when its type is
/// registered, otherwise a `RemoteJobError` whose `origin` names the rank and the host; timeouts, cancellations
/// and lost workers as `ExecutorError`, whose message names the rank and the host.
public struct ClusterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as an extensible, comparable code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable identifier, such as `"notEnoughRanks"`.
        public let rawValue: String

        init(_ rawValue: String) { self.rawValue = rawValue }

        /// The run has no worker rank: it was not started by `mpirun`, or with `-n 1`.
        public static let notEnoughRanks = Code("notEnoughRanks")
        /// An MPI call failed.
        public static let mpiFailed = Code("mpiFailed")
        /// MPI was finalised in this process already (by an earlier executor's shutdown); it cannot start again.
        public static let finalized = Code("finalized")
        /// This process is a worker rank, not rank 0: it serves jobs and has no executor.
        public static let notRankZero = Code("notRankZero")

        /// The identifier.
        public var description: String { rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// A sentence a person can act on.
    public let message: String

    /// Makes an error.
    ///
    /// - Parameters:
    ///   - code: What went wrong.
    ///   - message: What happened and what to do.
    public init(_ code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }

    /// Two errors are equal when their codes are; the message is for people.
    public static func == (lhs: ClusterError, rhs: ClusterError) -> Bool { lhs.code == rhs.code }

    /// Hashes the code.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    static func mpi(_ call: String, _ status: Int32) -> ClusterError {
        ClusterError(.mpiFailed, message: "\(call) failed with MPI error \(status); is Open MPI installed and working?")
    }

    static func finalized() -> ClusterError {
        ClusterError(
            .finalized,
            message: "MPI has been finalised in this process (an MPIExecutor was shut down); it cannot start again. "
                + "Create one MPIExecutor per run and shut it down at the end"
        )
    }

    static func notEnoughRanks(size: Int) -> ClusterError {
        ClusterError(
            .notEnoughRanks,
            message: "the MPI world has \(size) rank\(size == 1 ? "" : "s") and needs at least 2 (rank 0 runs the "
                + "program, the others run jobs); start the program with `mpirun -n 4 <program>`"
        )
    }

    static func notRankZero(rank: Int) -> ClusterError {
        ClusterError(
            .notRankZero,
            message: "this process is rank \(rank), a worker rank: only rank 0 has an executor. Call "
                + "MPICluster.bootstrap(jobs:errors:) first in main, so that worker ranks serve jobs and never get here"
        )
    }
}
#endif
