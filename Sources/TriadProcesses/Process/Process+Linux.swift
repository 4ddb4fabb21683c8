#if os(Linux)
import Glibc
import Synchronization
import TriadCore

/// One registered `Job` run in a process of its own, like Python's
/// `multiprocessing.Process(target=...)`, with the job's result coming back.
///
/// ```swift
/// let process = Process(Resize(path: "big.png", width: 128))
/// try process.start()
/// // ... do other work ...
/// let thumbnail = try await process.value
/// print(process.exit!)   // exited with status 0
/// ```
///
/// The child is a pool worker of one: the program's own binary started again (so its `main` must call
/// ``ProcessPool/bootstrap(jobs:errors:)`` first, with the job's type registered), checked by the same handshake
/// and watched by the same driver thread as a ``ProcessPoolExecutor``'s workers. So it gets the same guarantees:
///
/// - **No orphans.** The child dies with its parent, even when the parent is SIGKILLed.
/// - **A clean environment.** The child runs with `SWIFT_BACKTRACE=enable=no` unless
///   ``ProcessPoolConfiguration/workerBacktraces`` asks otherwise.
/// - **Typed failures.** A crash (`fatalError`, a segmentation fault, `exit(3)`, an outside SIGKILL) ends the job
///   with `ExecutorError.Code.workerCrashed` naming the job, whose `ExecutorError.underlying`
///   is the ``WorkerExit`` with the signal or status. An error thrown by the job comes back as itself when its type
///   is registered and `Codable`, otherwise as a `RemoteJobError`.
///
/// **Talking to the parent.** Pass descriptors at start, for example one end of a ``Pipe``, a ``ProcessQueue`` or a
/// ``SharedMemory`` segment: `Process(job, passing: [childEnd.descriptor, queue.descriptor])`. In the child, the
/// job opens them with ``IPCDescriptor/passed(_:)``: `try Pipe(inheriting: .passed(0))`. The child's copies are the
/// only ones that stay open there: after ``start()``, close your own copy of a pipe end you passed, and the other
/// end sees end of stream when the child exits.
///
/// **Naming.** Foundation also has a `Process`. In a file that imports both, write `TriadProcesses.Process`.
///
/// `Process` is `Sendable`: any thread or task may query, signal or join it.
public final class Process<J: Job>: Sendable {
    /// The job the process runs.
    public let job: J
    private let storage: ProcessStorage
    private let registry: JobRegistry
    private let message: Result<OutgoingMessage, ExecutorError>
    private let decoded = Mutex<Result<J.Output, any Error>?>(nil)

    /// Makes a process that will run `job`; nothing starts until ``start()``.
    ///
    /// - Parameters:
    ///   - job: The job. Its type must be registered in the child program's ``ProcessPool/bootstrap(jobs:errors:)``
    ///     and in `configuration`'s registry.
    ///   - descriptors: Descriptors the child inherits, such as `pipe.descriptor`, `queue.descriptor` or
    ///     `memory.descriptor`. The process keeps its own duplicates until the child has started, so you may close
    ///     yours right after ``start()``. In the child, the i-th one is ``IPCDescriptor/passed(_:)`` with index i
    ///     (descriptor number ``IPCDescriptor/firstPassed`` + i).
    ///   - configuration: The program to run, the registry, the handshake timeout, the frame limit, backtraces and
    ///     extra environment variables, as for a pool; its worker count and pool limits do not apply.
    public init(_ job: J, passing descriptors: [IPCDescriptor] = [], configuration: ProcessPoolConfiguration? = nil) {
        let configuration = configuration ?? ProcessPoolConfiguration(workers: 1)
        self.job = job
        self.registry = configuration.registry ?? ProcessPool.registry
        var copies: [Int32] = []
        for descriptor in descriptors {
            switch Syscall.duplicate(descriptor.rawValue) {
            case .success(let copy): copies.append(copy)
            case .failure(let error):
                preconditionFailure("descriptor \(descriptor) cannot be passed to a Process: \(error)")
            }
        }
        message = Result { () throws(ExecutorError) in
            try JobMessages.single(
                job,
                named: J.jobName,
                sequence: 1,
                maxFrameSize: configuration.maxFrameSize
            ).message
        }
        storage = ProcessStorage(
            jobName: J.jobName,
            message: (try? message.get()) ?? OutgoingMessage(),
            launch: WorkerLaunch(configuration: configuration, passing: copies)
        )
    }

    /// Starts the child process in the background and returns at once; ``pid`` is set once the child has answered
    /// its handshake, a few milliseconds later.
    ///
    /// Call it once: starting a process twice is a programmer error and stops the program.
    ///
    /// - Throws: `ExecutorError` with `ExecutorError.Code.unknownJob` if the job's type is
    ///   not registered, or `ExecutorError.Code.codingFailed` if the job cannot be encoded or is above
    ///   the frame limit; the process is not started then. A child that fails to start (a missing program, one
    ///   that does not bootstrap) is not an error here: the process finishes with
    ///   `ExecutorError.Code.workerStartFailed` as its ``result``.
    public func start() throws(ExecutorError) {
        guard registry.contains(jobName: J.jobName) else {
            throw ExecutorError.unregistered(J.self, runner: "child")
        }
        _ = try message.get()
        storage.start()
    }

    /// Whether the process was started and has not finished: true from ``start()`` until the child is reaped.
    public var isAlive: Bool { storage.snapshot.isAlive }

    /// The child's process id, once it has started; it stays set after the child exits.
    public var pid: Int32? { storage.snapshot.pid }

    /// How the child ended: its exit status or the signal that killed it; `nil` while it runs, or if it never
    /// started.
    public var exit: WorkerExit? { storage.snapshot.exit }

    /// The child's exit code as Python reports it: the exit status, or minus the signal that killed it; `nil`
    /// while it runs. A job that throws still exits with 0: its error is in ``result``.
    public var exitCode: Int32? {
        guard let exit else { return nil }
        if let signal = exit.signal { return -signal }
        return exit.exitStatus
    }

    /// The job's output or error, once the process has finished; `nil` before.
    ///
    /// The error is the job's own when its type is registered and `Codable`, a `RemoteJobError`
    /// otherwise, or a `ExecutorError`: `ExecutorError.Code.workerCrashed` for a crash,
    /// `ExecutorError.Code.cancelled` after ``terminate()`` or ``kill()``,
    /// `ExecutorError.Code.workerStartFailed` if the child never started.
    public var result: Result<J.Output, any Error>? {
        if let done = decoded.withLock({ $0 }) { return done }
        guard let outcome = storage.snapshot.outcome, storage.snapshot.isFinished else { return nil }
        let value: Result<J.Output, any Error>
        switch outcome {
        case .success(let item):
            value = JobMessages.decode(ReceivedFrame(item), as: J.Output.self, jobName: J.jobName, registry: registry)
        case .failure(let error):
            value = .failure(error)
        }
        decoded.withLock { $0 = value }
        return value
    }

    /// Waits for the process to finish and returns the job's output.
    ///
    /// - Throws: The job's error, or an `ExecutorError` as described in ``result``;
    ///   `ExecutorError.Code.cancelled` if the awaiting task is cancelled (the process runs on).
    public var value: J.Output {
        get async throws {
            guard await join(timeout: nil) else { throw ExecutorError.cancelled(jobName: J.jobName) }
            return try result!.get()
        }
    }

    /// Sends SIGTERM to the child, like Python's `terminate()`. The job's ``result`` becomes
    /// `ExecutorError.Code.cancelled` unless its output had already arrived. Signalling a process that
    /// has finished does nothing; one that is still starting gets the signal as soon as it is up, before its job.
    /// A process that was never started is a programmer error.
    public func terminate() {
        storage.signal(SIGTERM)
    }

    /// Sends SIGKILL to the child, like Python's `kill()`; otherwise as ``terminate()``.
    public func kill() {
        storage.signal(SIGKILL)
    }

    /// Blocks the calling thread until the process has finished, or `timeout` has passed.
    ///
    /// - Parameter timeout: The longest wait; `nil` waits as long as it takes.
    /// - Returns: Whether the process has finished. A timeout is not an error: the process runs on.
    ///
    /// Joining a process that was never started is a programmer error. In async code, use the `async` variant.
    @available(*, noasync, message: "use the async join, which suspends instead of blocking a thread")
    @discardableResult
    public func join(timeout: Duration? = nil) -> Bool {
        storage.waitBlocking(timeout: timeout)
    }

    /// Suspends until the process has finished, or `timeout` has passed; never blocks a thread.
    ///
    /// - Parameter timeout: The longest wait; `nil` waits as long as it takes.
    /// - Returns: Whether the process has finished. A timeout or a cancelled task is not an error: the process
    ///   runs on.
    @discardableResult
    public func join(timeout: Duration? = nil) async -> Bool {
        await storage.wait(timeout: timeout)
    }
}
#endif
