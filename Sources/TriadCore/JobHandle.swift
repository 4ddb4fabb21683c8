import Synchronization

/// The handle to a submitted job, like a `concurrent.futures.Future`: await its value, cancel it, read its state.
///
/// A handle always resolves: with the job's value, the job's error, or an ``ExecutorError`` for a timeout, a
/// cancellation, a shutdown or a lost worker. No executor leaves a handle unresolved.
///
/// Awaiting ``value`` or ``result`` from a task that is then cancelled cancels the job, so Swift's structured
/// cancellation reaches the work. To wait without that link, read the value from an unstructured task.
public final class JobHandle<Output: Sendable>: Sendable {
    /// The name of the submitted job's type (see ``Job/jobName``).
    public let jobName: String
    /// A number unique to this handle within the process, in submission order.
    public let id: UInt64

    private let storage: Mutex<HandleStorage>

    /// Makes a pending handle. Executors create handles; users receive them from `submit`.
    ///
    /// An executor that keeps an object for the job's type (see ``JobController``) passes it as `controller`, with
    /// the `tag` by which it knows this job; the handle keeps it until it resolves.
    package init(jobName: String, controller: (any JobController)? = nil, tag: UInt64 = 0) {
        self.jobName = jobName
        self.id = _nextHandleID.wrappingAdd(1, ordering: .relaxed).oldValue
        self.storage = Mutex(HandleStorage(controller: controller, controllerTag: tag))
    }

    /// Where the job is now.
    public var state: JobState { storage.withLock { $0.state } }

    /// Whether the job has finished: succeeded, failed or cancelled.
    public var isFinished: Bool { state.isFinished }

    /// Waits for the job and returns its value.
    ///
    /// - Throws: The job's own error; a ``RemoteJobError`` for a job that failed in another process; or an
    ///   ``ExecutorError`` for a cancellation, a timeout, a shutdown or a lost worker.
    ///
    /// Cancelling the awaiting task cancels the job.
    ///
    /// It runs on the caller's executor, so reading the value of a job that has finished costs no hop between
    /// threads, even from the main actor or top-level code.
    ///
    /// Inlinable, so that reading a finished handle costs the caller no frame of an asynchronous call, and its
    /// output is copied by code compiled for its type: together they were most of the cost of reading a finished
    /// handle, at hundreds of thousands of handles a second.
    @inlinable
    public nonisolated(nonsending) var value: Output {
        get async throws {
            if let output = try _finishedOutput() { return output }
            return try await _awaitValue()
        }
    }

    /// The output of a handle that has succeeded, or its error if it failed; `nil` while it is pending.
    @usableFromInline
    func _finishedOutput() throws -> Output? {
        guard let outcome = storage.withLock({ $0.promise.outcome }) else { return nil }
        return try Self.unwrap(outcome)
    }

    /// Waits for a pending handle's outcome; see ``value``.
    @usableFromInline
    nonisolated(nonsending) func _awaitValue() async throws -> Output {
        var outcome = outcomeAfterAssist()
        if outcome == nil { outcome = await waitForOutcome() }
        return try Self.unwrap(outcome!)
    }

    /// Waits for the job and returns its outcome without throwing.
    ///
    /// Cancelling the awaiting task cancels the job, and the outcome is then a cancellation error. Like
    /// ``value``, it runs on the caller's executor.
    public nonisolated(nonsending) var result: Result<Output, any Error> {
        get async {
            var outcome = outcomeAfterAssist()
            if outcome == nil { outcome = await waitForOutcome() }
            return Result { try Self.unwrap(outcome!) }
        }
    }

    /// The outcome, if the handle has resolved or resolves while the executor's assist lasts (see
    /// ``JobController/assistBeforeSuspending(until:)``): a task about to suspend for a short job gets its result
    /// without the wake-up that resumes a suspended task. A cancelled task does not assist, and stops assisting
    /// once it is cancelled: it goes on to cancel the job.
    private func outcomeAfterAssist() -> HandleOutcome? {
        let (outcome, controller) = storage.withLock { ($0.promise.outcome, $0.controller) }
        guard outcome == nil, let controller, !Task.isCancelled else { return outcome }
        controller.assistBeforeSuspending { self.isFinished || Task.isCancelled }
        return storage.withLock { $0.promise.outcome }
    }

    /// Suspends until the handle resolves; cancelling the waiting task cancels the job. (A plain `async` function:
    /// inside a `nonisolated(nonsending)` caller, `withTaskCancellationHandler` crashed with Swift 6.3.)
    private func waitForOutcome() async -> HandleOutcome {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<HandleOutcome, Never>) in
                let ready = storage.withLock { $0.promise.addWaiter(continuation) }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            self.cancel()
        }
    }

    private static func unwrap(_ outcome: HandleOutcome) throws -> Output {
        switch outcome {
        case .value(let value): output(value)
        case .error(let error): throw error
        }
    }

    /// The output kept in an `Any` (opened, as `Kept`), without the run-time cast that costs a finished handle's
    /// read several times its lock: the kept value's type is the output's, but for an output of an existential or
    /// class type, whose values keep their own dynamic type, which the cast handles.
    private static func output<Kept>(_ value: Kept) -> Output {
        guard Kept.self == Output.self else { return value as! Output }
        return unsafeBitCast(value, to: Output.self)
    }

    /// Cancels the job.
    ///
    /// A pending job is removed and never runs. A running job is asked to stop in the way its executor allows: a
    /// process pool kills and replaces the worker, an in-process executor cancels the job's task. Either way the
    /// handle resolves at once with ``ExecutorError/Code/cancelled``.
    ///
    /// - Returns: `true` if this call cancelled the job; `false` if it had already finished, which is not an error.
    @discardableResult
    public func cancel() -> Bool {
        let outcome = resolve(.error(ExecutorError.cancelled(jobName: jobName)), as: .cancelled)
        guard let outcome else { return false }
        outcome.cancelHandler?(outcome.wasRunning)
        outcome.controller?.cancelJob(tag: outcome.controllerTag, wasRunning: outcome.wasRunning)
        return true
    }

    // MARK: - For executors

    /// Marks the job running. Returns `false` if it was cancelled meanwhile, in which case the executor skips it.
    package func markRunning() -> Bool {
        storage.withLock { storage in
            guard storage.state == .pending else { return false }
            storage.state = .running
            return true
        }
    }

    /// Puts a running job back to pending, for a retry after its worker died. Returns `false` if it had finished.
    package func markPending() -> Bool {
        storage.withLock { storage in
            guard storage.state == .running else { return false }
            storage.state = .pending
            return true
        }
    }

    /// Installs the code that stops a pending or running job when the handle is cancelled. The argument says
    /// whether the job was running.
    package func setCancelHandler(_ handler: @escaping @Sendable (_ wasRunning: Bool) -> Void) {
        storage.withLock { $0.cancelHandler = handler }
    }

    /// Starts the assist of a thread that blocks waiting for the handle (see ``JobController/beginWaitAssist()``),
    /// or returns `nil` when there is none: the handle has resolved, or its executor offers none.
    package func beginWaitAssist() -> WaitAssistSession? {
        storage.withLock { $0.controller }?.beginWaitAssist()
    }

    /// Resolves the handle with a value. Returns `false` if it was already resolved (for example cancelled).
    @discardableResult
    package func succeed(_ value: Output) -> Bool {
        resolve(.value(value), as: .succeeded) != nil
    }

    /// Resolves the handle with an error. A cancellation ``ExecutorError``, or the shutdown that dropped a job
    /// before it started, moves it to ``JobState/cancelled``. Returns `false` if it was already resolved.
    @discardableResult
    package func fail(_ error: any Error) -> Bool {
        fail(error, announcing: {})
    }

    /// Resolves the handle with an error like ``fail(_:)`` and, if this call resolved it, runs `announce` before
    /// anyone waiting for the handle hears of it: an executor logs there why it failed the job, so a task that
    /// awaits the handle finds the record already written. Returns `false`, running nothing, if it was resolved.
    @discardableResult
    package func fail(_ error: any Error, announcing announce: () -> Void) -> Bool {
        let code = (error as? ExecutorError)?.code
        let isCancel = code == .cancelled || code == .shutDown
        return resolve(.error(error), as: isCancel ? .cancelled : .failed, announcing: announce) != nil
    }

    /// Resolves the handle with an outcome. Returns `false` if it was already resolved.
    @discardableResult
    package func complete(_ result: Result<Output, any Error>) -> Bool {
        switch result {
        case .success(let value): succeed(value)
        case .failure(let error): fail(error)
        }
    }

    /// The value of a handle that has resolved, or its error, read at once: for a waiter that saw ``isFinished``.
    /// It builds no `Result` or optional of the output's type, which code generic over the output would have to look
    /// up at run time.
    ///
    /// - Precondition: The handle has resolved.
    package func finishedValue() throws -> Output {
        guard let outcome = storage.withLock({ $0.promise.outcome }) else {
            preconditionFailure("the value of job \(jobName)'s handle was read before the handle resolved")
        }
        return try Self.unwrap(outcome)
    }

    /// Runs `callback` once the handle resolves, at once if it already has. The callback runs on the thread that
    /// resolves the handle, so it must be short and must not block: an executor's own thread, or a thread that
    /// waits for another job and reads results meanwhile (a process pool's blocking waiter, or a task about to
    /// suspend; see ``JobController/assistBeforeSuspending(until:)``).
    package func whenComplete(_ callback: @escaping @Sendable (Result<Output, any Error>) -> Void) {
        let ready = storage.withLock { storage -> HandleOutcome? in
            if let outcome = storage.promise.outcome { return outcome }
            return storage.promise.addCallback { outcome in callback(Result { try Self.unwrap(outcome) }) }
        }
        if let ready { callback(Result { try Self.unwrap(ready) }) }
    }

    /// Stores the outcome and, after the lock, runs `announce` and then wakes every waiter, all or nothing: of two
    /// racing resolutions exactly one wins.
    private func resolve(
        _ outcome: HandleOutcome,
        as state: JobState,
        announcing announce: () -> Void = {}
    ) -> HandleResolution? {
        var resolution = HandleResolution()
        let wakeups = storage.withLock { storage -> Promise<HandleOutcome>.Wakeups? in
            guard let wakeups = storage.promise.resolve(outcome) else { return nil }
            resolution.wasRunning = storage.state == .running
            swap(&resolution.cancelHandler, &storage.cancelHandler)
            swap(&resolution.controller, &storage.controller)
            resolution.controllerTag = storage.controllerTag
            storage.state = state
            return wakeups
        }
        guard let wakeups else { return nil }
        announce()
        wakeups.run()
        return resolution
    }
}

/// An executor's object for the jobs of one type, which their handles call back: an executor that keeps one such
/// object per type anyway (a process pool's job sink) passes it to `JobHandle.init(jobName:controller:tag:)`
/// instead of installing closures, so that submitting a job allocates nothing for its cancellation. The handle
/// lets go of it when it resolves.
package protocol JobController: AnyObject, Sendable {
    /// Stops the job known by `tag`, which its handle's ``JobHandle/cancel()`` has just resolved as cancelled;
    /// `wasRunning` says whether it was running.
    func cancelJob(tag: UInt64, wasRunning: Bool)

    /// What a thread that blocks waiting for the handle may do, between its looks at the handle, to bring the
    /// outcome sooner: a process pool reads its workers' results on that thread, instead of handing them from its
    /// own thread to the waiting one. `nil` when the executor offers nothing.
    func beginWaitAssist() -> WaitAssistSession?

    /// What a task does before it suspends to await the handle: a process pool reads its workers' results on the
    /// task's thread for a few microseconds, so that a short job's result arrives without a suspension and the
    /// wake-up that resumes it. It returns as soon as `finished` returns true (the handle resolved, or the task was
    /// cancelled), or when its budget is spent; it must stay short (it runs on a thread of Swift's cooperative pool,
    /// or on the main actor), and must not wait for a lock that another thread may hold for long.
    func assistBeforeSuspending(until finished: () -> Bool)
}

extension JobController {
    /// Nothing: the task suspends at once.
    package func assistBeforeSuspending(until finished: () -> Bool) {}
}

/// What a thread that blocks waiting for a handle does while it spins (see ``JobController/beginWaitAssist()``):
/// used by that one thread, `poll` any number of times, then `end` once; none of them may block.
package struct WaitAssistSession {
    package let poll: () -> Void
    package let end: () -> Void
    /// Whether the thread may pause its CPU between its first polls, before it yields between them: false when
    /// the thread that will answer runs on the waiting thread's CPU, which a pause only keeps from it.
    package let pauses: Bool

    /// How long a thread that assists pauses its CPU between polls before it yields it instead: a tiny job's result
    /// comes within microseconds, and a system call to yield would delay seeing it by its own cost. A blocked
    /// `wait()` and a process pool's awaiting task both follow it.
    package static let pauseNanoseconds: UInt64 = 10_000

    /// Whether a thread `elapsed` nanoseconds into its assist pauses its CPU before its next look (else it yields
    /// it): within the first ``pauseNanoseconds``, when it `mayPause`, that is when the thread that answers does not
    /// run on its CPU.
    package static func pausesCPU(after elapsed: UInt64, mayPause: Bool) -> Bool {
        mayPause && elapsed < pauseNanoseconds
    }

    package init(poll: @escaping () -> Void, end: @escaping () -> Void, pauses: Bool = true) {
        self.poll = poll
        self.end = end
        self.pauses = pauses
    }
}

private let _nextHandleID = Atomic<UInt64>(1)

/// How a handle resolved. The value travels as `Any`, so the handle's storage has no type that depends on the
/// output's: code that is generic over the output at run time then needs no type metadata to reach it, which the
/// runtime finds through a hashed lookup each time (several per job, at hundreds of thousands of jobs a second).
private enum HandleOutcome: @unchecked Sendable {
    case value(Any)
    case error(any Error)
}

/// What the resolution of a handle hands back to a cancellation. A type of its own, not nested in the generic
/// `JobHandle`: a nested type depends on the output's type, so every resolution would look up its metadata, and its
/// optional's, at run time.
private struct HandleResolution {
    var wasRunning = false
    var cancelHandler: (@Sendable (_ wasRunning: Bool) -> Void)?
    var controller: (any JobController)?
    var controllerTag: UInt64 = 0
}

/// The mutable state of a handle, behind its lock.
private struct HandleStorage {
    var state: JobState = .pending
    /// The outcome and the waiters and callbacks that hear of it.
    var promise = Promise<HandleOutcome>()
    var cancelHandler: (@Sendable (_ wasRunning: Bool) -> Void)?
    /// The executor's object for the job, if it passed one instead of a cancel handler, and the job's tag for it.
    var controller: (any JobController)?
    var controllerTag: UInt64
}
