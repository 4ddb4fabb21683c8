import Logging
import Synchronization

/// A task started on the loop by ``AsyncLoop/createTask(name:_:)``: the analogue of an `asyncio.Task`.
///
/// Awaiting ``value`` from a task that is then cancelled cancels this task too, as in asyncio; use
/// ``AsyncLoop/shield(_:)`` to wait without that link. A task that fails while nobody awaits it has its error
/// logged (once its handle is gone, or at once if it already is), never silently dropped.
public final class LoopTask<Success: Sendable>: Sendable {
    /// The task's name, used in watchdog reports and in the report of an error nobody retrieved.
    public let name: String

    let completion: TaskCompletion<Success>
    private let task: Task<Void, Never>

    init(name: String, completion: TaskCompletion<Success>, task: Task<Void, Never>) {
        self.name = name
        self.completion = completion
        self.task = task
    }

    deinit {
        completion.handleDropped()
    }

    /// Waits for the task and returns its value.
    ///
    /// Cancelling the awaiting task cancels this task.
    ///
    /// - Throws: The task's error, or `CancellationError` if it was cancelled.
    public var value: Success {
        get async throws {
            try await result.get()
        }
    }

    /// Waits for the task and returns its outcome without throwing. Cancelling the awaiting task cancels this task.
    public var result: Result<Success, any Error> {
        get async {
            await completion.wait { [self] in self.task.cancel() }
        }
    }

    /// Asks the task to stop, as `asyncio.Task.cancel()` does: it sees `Task.isCancelled`, and its suspended
    /// waits (sleeps, queue gets, socket reads) throw `CancellationError`. Cancelling a finished task does nothing.
    public func cancel() {
        task.cancel()
    }

    /// Whether ``cancel()`` was called (or the task was cancelled by a shutdown).
    public var isCancelled: Bool { task.isCancelled }

    /// Whether the task has finished, with a value, an error or a cancellation.
    public var isDone: Bool { completion.peek() != nil }

    /// Runs `callback` once the task finishes (at once if it has), on the thread that finishes it: the loop thread.
    /// Counts as retrieving the outcome.
    public func whenDone(_ callback: @escaping @Sendable (Result<Success, any Error>) -> Void) {
        completion.whenDone(callback)
    }
}

extension AsyncLoop {
    /// Starts `body` as a new task on the loop and returns its handle at once: the analogue of
    /// `asyncio.create_task`.
    ///
    /// Unlike `Task { }`, the task stays on the loop thread, and so do its children. It starts after the current
    /// step suspends, in the order tasks were created. ``shutdown()`` and ``run(options:_:)`` cancel and await the
    /// tasks still running when they finish.
    ///
    /// - Parameters:
    ///   - name: A name for watchdog reports and error reports; by default `task-N`.
    ///   - body: The task's work.
    /// - Returns: The task's handle. Dropping it does not cancel the task.
    @discardableResult
    public func createTask<T: Sendable>(
        name: String? = nil,
        _ body: @escaping @Sendable () async throws -> T
    ) -> LoopTask<T> {
        let name = name ?? "task-\(nextTaskNumber())"
        let completion = TaskCompletion<T>(name: name, logger: logger)
        let gate = Mutex<UInt64?>(nil)
        let task = Task(executorPreference: executor) { [self] in
            let key = steps.registerCurrentTask(name: name)
            let result: Result<T, any Error>
            do {
                result = .success(try await AsyncLoop.$current.withValue(self) { try await body() })
            } catch {
                result = .failure(error)
            }
            steps.unregister(key)
            completion.finish(result)
            if let trackKey = gate.withLock({ $0 }) { untrack(trackKey) }
        }
        let trackKey = track {
            task.cancel()
            _ = await completion.wait(cancellable: false)
        }
        gate.withLock { $0 = trackKey }
        if completion.peek() != nil { untrack(trackKey) }
        return LoopTask(name: name, completion: completion, task: task)
    }

    /// Waits for `task` without letting the caller's cancellation reach it: the analogue of `asyncio.shield`.
    ///
    /// If the caller is cancelled, this throws `CancellationError` at once while `task` keeps running.
    ///
    /// - Parameter task: The task to wait for.
    /// - Returns: The task's value.
    /// - Throws: The task's error, or `CancellationError` if the caller was cancelled.
    public func shield<T: Sendable>(_ task: LoopTask<T>) async throws -> T {
        try await task.completion.wait(cancellable: true).get()
    }

    /// Waits for `task` at most `timeout`; on timeout cancels it and throws: the analogue of `asyncio.wait_for`.
    ///
    /// - Parameters:
    ///   - task: The task to wait for.
    ///   - timeout: The longest wait, measured on the loop's clock.
    /// - Returns: The task's value.
    /// - Throws: ``AsyncLoopError/Code/timedOut`` on timeout; otherwise the task's own error.
    public func waitFor<T: Sendable>(_ task: LoopTask<T>, timeout: Duration) async throws -> T {
        try await self.timeout(timeout) { try await task.value }
    }

    private func nextTaskNumber() -> UInt64 {
        taskCounter.wrappingAdd(1, ordering: .relaxed).newValue
    }
}

private let taskCounter = Atomic<UInt64>(0)
