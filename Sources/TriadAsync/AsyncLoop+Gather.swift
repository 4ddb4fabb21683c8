import NIOCore
import Synchronization
import TriadCore

extension AsyncLoop {
    /// Runs every operation concurrently on the loop and returns their values in order: the analogue of
    /// `asyncio.gather`.
    ///
    /// The first operation to throw cancels the others; once they have finished, its error is thrown.
    /// Cancelling the caller cancels every operation, and operations that have not started yet never start.
    ///
    /// Operations start in order, each as a task of its own. A gather of more than 1024 operations creates their
    /// tasks 1024 at a time and lets each batch take its first step before it creates the next, so that a gather
    /// of many short operations never holds all their tasks at once (asyncio creates every task up front; the
    /// difference shows only in the order of steps across batches).
    ///
    /// - Parameter operations: The work, one closure per task.
    /// - Returns: The values, in the order of `operations`.
    /// - Throws: The first error an operation throws; `CancellationError` if the caller was cancelled before
    ///   every operation had started.
    public func gather<T: Sendable>(_ operations: [@Sendable () async throws -> T]) async throws -> [T] {
        let run = SlotBuffer<@Sendable () async throws -> T, T>(operations)
        // A discarding group: the parent is not woken once per finished child, only at the end (or at the first
        // error, which cancels the rest). Every child shares one closure, so a child costs its task alone. The
        // closure is `@isolated(any)` from the start: converting a plain closure for `addTask` wraps it in a
        // thunk, whose extra frame pushed a sleeping child past its task allocator's first 1 KiB slab.
        let child: @Sendable @isolated(any) () async throws -> Void = {
            let (index, operation) = run.claim()!
            run.store(try await operation(), at: index)
        }
        let startedAll = try await withTaskExecutorPreference(executor) {
            try await withThrowingDiscardingTaskGroup { group in
                for index in operations.indices {
                    guard group.addTaskUnlessCancelled(operation: child) else { return false }
                    if index % Self.gatherBatch == Self.gatherBatch - 1 { await Task.yield() }
                }
                return true
            }
        }
        // The group rethrows an operation's error first; a cancellation that stopped the start of the rest is
        // reported here.
        guard startedAll else { throw CancellationError() }
        return run.take()
    }

    /// How many tasks `gather` creates before it yields to let them start.
    static var gatherBatch: Int { 1024 }

    /// Waits for every task and returns their values in order; the first to fail cancels the others and its
    /// error is thrown. Cancelling the caller cancels every task.
    ///
    /// - Parameter tasks: Tasks from ``createTask(name:_:)``.
    /// - Returns: The values, in the order of `tasks`.
    /// - Throws: The first error a task throws.
    public func gather<T: Sendable>(_ tasks: [LoopTask<T>]) async throws -> [T] {
        do {
            return try await gather(tasks.map { task in { try await task.value } })
        } catch {
            for task in tasks { task.cancel() }
            throw error
        }
    }

    /// Runs every operation concurrently and returns every outcome in order, errors included: the analogue of
    /// `asyncio.gather(..., return_exceptions=True)`. One failure cancels nothing.
    ///
    /// - Parameter operations: The work, one closure per task.
    /// - Returns: Each operation's value or error, in the order of `operations`.
    public func gatherResults<T: Sendable>(
        _ operations: [@Sendable () async throws -> T]
    ) async -> [Result<T, any Error>] {
        await withTaskExecutorPreference(executor) {
            await withTaskGroup(of: (Int, Result<T, any Error>).self) { group in
                for (index, operation) in operations.enumerated() {
                    group.addTask {
                        do { return (index, .success(try await operation())) } catch { return (index, .failure(error)) }
                    }
                }
                var results = [Result<T, any Error>?](repeating: nil, count: operations.count)
                for await (index, result) in group { results[index] = result }
                return results.map { $0! }
            }
        }
    }

    /// Runs every operation concurrently and yields each outcome as soon as it completes, tagged with its index:
    /// the analogue of `asyncio.as_completed`.
    ///
    /// A failing operation does not end the stream; its outcome carries the error. Ending the iteration early
    /// cancels the operations still running.
    ///
    /// - Parameter operations: The work, one closure per task.
    /// - Returns: The outcomes in completion order.
    public func asCompleted<T: Sendable>(
        _ operations: [@Sendable () async throws -> T]
    ) -> AsyncStream<JobCompletion<T>> {
        let (stream, continuation) = AsyncStream.makeStream(of: JobCompletion<T>.self)
        let task = Task(executorPreference: executor) {
            await withTaskGroup(of: JobCompletion<T>.self) { group in
                for (index, operation) in operations.enumerated() {
                    group.addTask {
                        do {
                            return JobCompletion(index: index, result: .success(try await operation()))
                        } catch {
                            return JobCompletion(index: index, result: .failure(error))
                        }
                    }
                }
                for await completion in group { continuation.yield(completion) }
                continuation.finish()
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Yields each task's outcome as soon as it completes, tagged with its index in `tasks`.
    ///
    /// - Parameter tasks: Tasks from ``createTask(name:_:)``.
    /// - Returns: The outcomes in completion order.
    public func asCompleted<T: Sendable>(_ tasks: [LoopTask<T>]) -> AsyncStream<JobCompletion<T>> {
        let (stream, continuation) = AsyncStream.makeStream(of: JobCompletion<T>.self)
        if tasks.isEmpty { continuation.finish() }
        let remaining = AtomicCounter(tasks.count)
        for (index, task) in tasks.enumerated() {
            task.whenDone { result in
                continuation.yield(JobCompletion(index: index, result: result))
                if remaining.decrement() == 0 { continuation.finish() }
            }
        }
        return stream
    }

    /// Runs `body` with a deadline: the analogue of `async with asyncio.timeout(...)`.
    ///
    /// When the deadline passes first, `body` is cancelled, and once it has stopped this throws
    /// ``AsyncLoopError/Code/timedOut``. A body that ignores cancellation delays the throw until it returns.
    ///
    /// - Parameters:
    ///   - duration: The time allowed, on the loop's clock.
    ///   - body: The work.
    /// - Returns: What `body` returns, if it finishes in time.
    /// - Throws: ``AsyncLoopError/Code/timedOut`` on timeout; otherwise what `body` throws.
    public func timeout<T: Sendable>(
        _ duration: Duration,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withTaskExecutorPreference(executor) {
            try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await body() }
                group.addTask {
                    try await self.sleep(for: duration)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next() else { throw AsyncLoopError.timedOut(after: duration) }
                guard let value = first else { throw AsyncLoopError.timedOut(after: duration) }
                return value
            }
        }
    }
}

/// A shared countdown, for callbacks that finish a stream when the last one runs.
final class AtomicCounter: Sendable {
    private let value: Atomic<Int>

    init(_ value: Int) { self.value = Atomic(value) }

    /// Subtracts one and returns the new value.
    func decrement() -> Int { value.subtract(1, ordering: .acquiringAndReleasing).newValue }
}
