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

    private let storage: Mutex<Storage>

    private struct Storage {
        var state: JobState = .pending
        var result: Result<Output, any Error>?
        var waiters: [UnsafeContinuation<Result<Output, any Error>, Never>] = []
        var callbacks: [@Sendable (Result<Output, any Error>) -> Void] = []
        var cancelHandler: (@Sendable (_ wasRunning: Bool) -> Void)?
    }

    /// Makes a pending handle. Executors create handles; users receive them from `submit`.
    package init(jobName: String) {
        self.jobName = jobName
        self.id = _nextHandleID.wrappingAdd(1, ordering: .relaxed).oldValue
        self.storage = Mutex(Storage())
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
    public var value: Output {
        get async throws { try await result.get() }
    }

    /// Waits for the job and returns its outcome without throwing.
    ///
    /// Cancelling the awaiting task cancels the job, and the outcome is then a cancellation error.
    public var result: Result<Output, any Error> {
        get async {
            if let done = storage.withLock({ $0.result }) { return done }
            return await withTaskCancellationHandler {
                await withUnsafeContinuation { continuation in
                    let ready: Result<Output, any Error>? = storage.withLock { storage in
                        if let result = storage.result { return result }
                        storage.waiters.append(continuation)
                        return nil
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            } onCancel: {
                self.cancel()
            }
        }
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
        let outcome = resolve(.failure(ExecutorError.cancelled(jobName: jobName)), as: .cancelled)
        guard let outcome else { return false }
        outcome.cancelHandler?(outcome.wasRunning)
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

    /// Resolves the handle with a value. Returns `false` if it was already resolved (for example cancelled).
    @discardableResult
    package func succeed(_ value: Output) -> Bool {
        finish(.success(value), as: .succeeded)
    }

    /// Resolves the handle with an error. A cancellation ``ExecutorError`` moves it to ``JobState/cancelled``.
    /// Returns `false` if it was already resolved.
    @discardableResult
    package func fail(_ error: any Error) -> Bool {
        let isCancel = (error as? ExecutorError)?.code == .cancelled
        return finish(.failure(error), as: isCancel ? .cancelled : .failed)
    }

    /// Resolves the handle with an outcome. Returns `false` if it was already resolved.
    @discardableResult
    package func complete(_ result: Result<Output, any Error>) -> Bool {
        switch result {
        case .success(let value): succeed(value)
        case .failure(let error): fail(error)
        }
    }

    /// Runs `callback` once the handle resolves, at once if it already has. The callback runs on the thread that
    /// resolves the handle, so it must be short and must not block.
    package func whenComplete(_ callback: @escaping @Sendable (Result<Output, any Error>) -> Void) {
        let ready: Result<Output, any Error>? = storage.withLock { storage in
            if let result = storage.result { return result }
            storage.callbacks.append(callback)
            return nil
        }
        if let ready { callback(ready) }
    }

    private func finish(_ result: Result<Output, any Error>, as state: JobState) -> Bool {
        resolve(result, as: state) != nil
    }

    private struct Resolution {
        var wasRunning: Bool
        var cancelHandler: (@Sendable (_ wasRunning: Bool) -> Void)?
    }

    /// Stores the outcome and wakes every waiter, all or nothing: of two racing resolutions exactly one wins.
    private func resolve(_ result: Result<Output, any Error>, as state: JobState) -> Resolution? {
        typealias Waiter = UnsafeContinuation<Result<Output, any Error>, Never>
        typealias Callback = @Sendable (Result<Output, any Error>) -> Void
        let taken = storage.withLock { storage -> (Resolution, [Waiter], [Callback])? in
            guard storage.result == nil else { return nil }
            let resolution = Resolution(wasRunning: storage.state == .running, cancelHandler: storage.cancelHandler)
            let taken = (resolution, storage.waiters, storage.callbacks)
            storage.result = result
            storage.state = state
            storage.cancelHandler = nil
            storage.waiters = []
            storage.callbacks = []
            return taken
        }
        guard let (resolution, waiters, callbacks) = taken else { return nil }
        for waiter in waiters { waiter.resume(returning: result) }
        for callback in callbacks { callback(result) }
        return resolution
    }
}

private let _nextHandleID = Atomic<UInt64>(1)
