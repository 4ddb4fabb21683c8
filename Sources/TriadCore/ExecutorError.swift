/// An error that an executor raises on its own account, as opposed to an error thrown by a job's `run()`.
///
/// Every Triad executor uses the same codes for the same conditions, so code that catches a timeout on the thread
/// pool catches it on the process pool too. The ``Code`` set is open: model modules add their own codes, so
/// compare codes with `==` and keep a `default` branch.
///
/// ```swift
/// do {
///     _ = try await pool.submit(job, options: .init(timeout: .seconds(1))).value
/// } catch let error as ExecutorError where error.code == .timedOut {
///     print(error)   // "job MyApp.Slow timed out after 1.0 seconds; ..."
/// }
/// ```
public struct ExecutorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as an extensible, comparable code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable identifier, such as `"timedOut"`.
        public let rawValue: String

        /// Makes a code. Model modules use this to add codes of their own.
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The job was cancelled, by ``JobHandle/cancel()``, by cancelling the task that awaited it, or by an
        /// executor stopped at once (``InterruptibleExecutor/stopNow()``).
        public static let cancelled = Code("cancelled")
        /// The executor is shut down: it refused the job, or dropped it before it started (a shutdown with
        /// `cancelPending`; the job's handle is then ``JobState/cancelled``).
        public static let shutDown = Code("shutDown")
        /// The job ran past its timeout.
        public static let timedOut = Code("timedOut")
        /// The job threw an error that could not be handed back as itself (for example from another process).
        public static let jobFailed = Code("jobFailed")
        /// No job of that name is registered, so it cannot run in another process.
        public static let unknownJob = Code("unknownJob")
        /// The worker running the job died: a crash, a signal or an exit.
        public static let workerCrashed = Code("workerCrashed")
        /// The worker could not be started.
        public static let workerStartFailed = Code("workerStartFailed")
        /// The job, its output or its error could not be encoded or decoded.
        public static let codingFailed = Code("codingFailed")
        /// The worker exceeded its memory limit while running the job.
        public static let memoryLimitExceeded = Code("memoryLimitExceeded")
        /// The worker broke the wire protocol: a corrupt, truncated or oversized frame, or a version mismatch.
        public static let protocolViolation = Code("protocolViolation")

        /// The identifier, such as `timedOut`.
        public var description: String { rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// The name of the job concerned, when there is one.
    public let jobName: String?
    /// A sentence a person can act on: what happened and what to do about it.
    public let message: String
    /// The lower-level cause, such as a ``WireError`` or a ``RemoteJobError``, when there is one.
    public let underlying: (any Error)?

    /// Makes an error.
    ///
    /// - Parameters:
    ///   - code: What went wrong.
    ///   - jobName: The job concerned, if any.
    ///   - message: What happened and what to do, in a sentence.
    ///   - underlying: The cause, if any.
    public init(
        _ code: Code,
        jobName: String? = nil,
        message: String,
        underlying: (any Error)? = nil
    ) {
        self.code = code
        self.jobName = jobName
        self.message = message
        self.underlying = underlying
    }

    /// The message, prefixed with the job's name, and followed by the cause.
    public var description: String {
        var text = jobName.map { "job \($0): \(message)" } ?? message
        if let underlying { text += " (cause: \(underlying))" }
        return text
    }

    /// Two errors are equal when their codes and job names are. The message is not compared: it is for people, and
    /// it names details (a process id, a duration) that differ between two occurrences of the same error. Neither
    /// is the cause.
    public static func == (lhs: ExecutorError, rhs: ExecutorError) -> Bool {
        lhs.code == rhs.code && lhs.jobName == rhs.jobName
    }

    /// Hashes the code and the job name.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(jobName)
    }

    /// The same error, about the job named `jobName`.
    package func about(jobName: String?) -> ExecutorError {
        ExecutorError(code, jobName: jobName, message: message, underlying: underlying)
    }

    /// The same error, its message followed by `detail`.
    package func adding(_ detail: String) -> ExecutorError {
        ExecutorError(code, jobName: jobName, message: message + detail, underlying: underlying)
    }
}

extension ExecutorError {
    /// The error for a job cancelled before it finished.
    package static func cancelled(jobName: String?) -> ExecutorError {
        ExecutorError(.cancelled, jobName: jobName, message: "the job was cancelled before it finished")
    }

    /// The error for a job submitted after shutdown.
    package static func shutDown(jobName: String?) -> ExecutorError {
        ExecutorError(
            .shutDown,
            jobName: jobName,
            message: "the executor is shut down and accepts no new jobs; create a new executor"
        )
    }

    /// The error for a job that had not started when its executor shut down with `cancelPending`: it never ran.
    package static func droppedAtShutdown(jobName: String?) -> ExecutorError {
        ExecutorError(
            .shutDown,
            jobName: jobName,
            message: "the executor shut down before the job started, and it never ran"
        )
    }

    /// The error for a job that ran past its timeout.
    package static func timedOut(jobName: String?, after timeout: Duration, killedWorker: Bool) -> ExecutorError {
        let action =
            killedWorker
            ? "its worker was killed and replaced"
            : "it was asked to cancel; threads cannot be killed, so make long jobs check Task.isCancelled"
        return ExecutorError(.timedOut, jobName: jobName, message: "timed out after \(timeout); \(action)")
    }
}
