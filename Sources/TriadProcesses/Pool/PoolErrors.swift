import TriadCore

// Every error the process pool and `Process` make for a job, in one place, so a message says the same thing
// wherever the same thing happens. Each says what went wrong and what the user can do about it.

extension ExecutorError {
    /// A job whose type the registry does not hold, so no worker could run it.
    static func unregistered<J: Job>(_: J.Type, runner: String = "worker") -> ExecutorError {
        ExecutorError(
            .unknownJob,
            jobName: J.jobName,
            message: "the job is not registered, so no \(runner) could run it; add \(J.self).self to the jobs of "
                + "ProcessPool.bootstrap(jobs:errors:), the first statement of main"
        )
    }

    /// A job that could not be encoded to go to a worker.
    static func unencodable(jobName: String, underlying: any Error) -> ExecutorError {
        ExecutorError(
            .codingFailed,
            jobName: jobName,
            message: "the job could not be encoded to send it to a worker",
            underlying: underlying
        )
    }

    /// A job that encodes to more than the pool's frame limit.
    static func oversized(jobName: String, bytes: Int, limit: Int) -> ExecutorError {
        ExecutorError(
            .codingFailed,
            jobName: jobName,
            message: "the job encodes to \(bytes) bytes, above the pool's frame limit of \(limit) bytes; raise "
                + "ProcessPoolConfiguration.maxFrameSize or send less"
        )
    }

    /// A job's output that came back from its worker but does not decode.
    static func undecodableOutput(jobName: String, underlying: any Error) -> ExecutorError {
        ExecutorError(
            .codingFailed,
            jobName: jobName,
            message: "the job's output from the worker could not be decoded",
            underlying: underlying
        )
    }

    /// A job that the worker could not decode, or whose output it could not encode.
    static func workerCodingFailed(jobName: String, _ remote: RemoteJobError) -> ExecutorError {
        ExecutorError(
            .codingFailed,
            jobName: jobName,
            message: "the worker could not decode or encode the job: \(remote.errorDescription)",
            underlying: remote
        )
    }

    /// A job that the worker program does not register.
    static func unregisteredInWorker(jobName: String, _ remote: RemoteJobError) -> ExecutorError {
        ExecutorError(
            .unknownJob,
            jobName: jobName,
            message: "the worker program does not register this job (\(remote.errorDescription)); register it in "
                + "the worker's ProcessPool.bootstrap call too",
            underlying: remote
        )
    }

    /// A worker that sent an error that does not decode.
    static func unreadableError(jobName: String) -> ExecutorError {
        ExecutorError(.protocolViolation, jobName: jobName, message: "the worker sent an unreadable error")
    }

    /// A worker that answered `jobs` jobs with another number of outcomes.
    static func outcomeCountMismatch(jobName: String, jobs: Int, outcomes: Int) -> ExecutorError {
        ExecutorError(
            .protocolViolation,
            jobName: jobName,
            message: "the worker answered \(jobs) jobs with \(outcomes) outcomes; it breaks the worker protocol"
        )
    }

    /// What the pool says of a worker that answered a message out of turn, which it killed for it.
    static func outOfTurnMessage(pid: Int32, sequence: UInt64, items: Int) -> String {
        "worker process \(pid) answered message \(sequence) with \(items) items out of turn; it was killed and "
            + "replaced"
    }

    /// A job whose worker died while running it, with no retries left.
    static func workerCrashed(jobName: String, pid: Int32, exit: WorkerExit, attempts: Int) -> ExecutorError {
        let tries = attempts > 1 ? " after \(attempts) attempts" : ""
        return ExecutorError(
            .workerCrashed,
            jobName: jobName,
            message: "worker process \(pid) running the job \(exit)\(tries); the job failed, the other jobs go on "
                + "and the worker was replaced\(exit.lastOutputSuffix)",
            underlying: exit
        )
    }

    /// A job whose worker the pool killed for using more memory than the limit.
    static func memoryLimit(jobName: String, pid: Int32, limit: Int, resident: Int, exit: WorkerExit) -> ExecutorError {
        ExecutorError(
            .memoryLimitExceeded,
            jobName: jobName,
            message: "worker process \(pid) used \(resident) bytes of memory, above the limit of \(limit); it was "
                + "killed and replaced",
            underlying: exit
        )
    }

    /// A job that had not finished when the pool was terminated or killed.
    static func terminated(jobName: String) -> ExecutorError {
        ExecutorError(.cancelled, jobName: jobName, message: "the pool was terminated before the job finished")
    }

    /// The job of a `Process` that ended before it finished.
    static func processCrashed(jobName: String, exit: WorkerExit) -> ExecutorError {
        ExecutorError(
            .workerCrashed,
            jobName: jobName,
            message: "process \(exit.pid) running the job \(exit); the job failed\(exit.lastOutputSuffix)",
            underlying: exit
        )
    }

    /// The job of a `Process` that its owner stopped with `signal` before it finished.
    static func processStopped(jobName: String, signal: Int32, exit: WorkerExit) -> ExecutorError {
        let how = signal == SIGKILL_VALUE ? "killed" : "terminated"
        return ExecutorError(
            .cancelled,
            jobName: jobName,
            message: "the process was \(how) (\(WorkerExit.signalName(signal))) before the job finished; it \(exit)",
            underlying: exit
        )
    }

    /// The error for the jobs waiting when the pool's initializer failed: no worker can start.
    static func initializerFailed(pid: Int32, _ remote: RemoteJobError) -> ExecutorError {
        ExecutorError(
            .workerStartFailed,
            message: "the pool's initializer failed in worker process \(pid); no worker can start",
            underlying: remote
        )
    }

    // MARK: - A worker's start and its stream

    /// Why a worker could not be started: a system call of the launch failed.
    static func spawnFailed(path: String, call: String, _ error: some Error) -> ExecutorError {
        ExecutorError(
            .workerStartFailed,
            message: "could not start a worker process from \(path): \(call) failed: \(error)"
        )
    }

    /// What a program whose workers do not answer should change.
    static let bootstrapAdvice =
        "make ProcessPool.bootstrap(jobs:errors:) the first statement of the worker program's main"

    /// A worker whose first bytes are not a Triad handshake.
    static func noHandshake(pid: Int32, underlying: any Error) -> ExecutorError {
        ExecutorError(
            .protocolViolation,
            message: "worker process \(pid) did not start with a Triad handshake; \(bootstrapAdvice)",
            underlying: underlying
        )
    }

    /// A worker that did not answer the handshake in time.
    static func handshakeTimedOut(pid: Int32, path: String, after timeout: Duration) -> ExecutorError {
        ExecutorError(
            .workerStartFailed,
            message: "worker process \(pid) (\(path)) did not answer the handshake within \(timeout); "
                + bootstrapAdvice
        )
    }

    /// A worker that ended before its handshake.
    static func endedBeforeHandshake(pid: Int32, path: String) -> ExecutorError {
        ExecutorError(
            .workerStartFailed,
            message: "worker process \(pid) (\(path)) ended before the handshake; \(bootstrapAdvice)"
        )
    }

    /// A worker whose handshake is refused: `reason` says why, and what to do.
    static func handshakeRefused(_ reason: String) -> ExecutorError {
        ExecutorError(.protocolViolation, message: reason)
    }

    /// A worker that sent bytes outside the protocol, and was killed for it.
    static func brokeProtocol(pid: Int32, underlying: any Error) -> ExecutorError {
        ExecutorError(
            .protocolViolation,
            message: "worker process \(pid) sent bytes that break the worker protocol; it was killed and replaced",
            underlying: underlying
        )
    }

    /// A worker whose stream ended in the middle of a message.
    static func brokeOff(pid: Int32, underlying: any Error) -> ExecutorError {
        ExecutorError(
            .protocolViolation,
            message: "worker process \(pid) broke off in the middle of a message",
            underlying: underlying
        )
    }

    /// The job of a worker that the pool killed for breaking the protocol; `message` says how.
    static func killedForViolation(jobName: String, message: String) -> ExecutorError {
        ExecutorError(.protocolViolation, jobName: jobName, message: message)
    }
}
