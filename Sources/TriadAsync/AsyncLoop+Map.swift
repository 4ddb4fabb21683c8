import NIOCore
import Synchronization
import TriadCore

extension AsyncLoop {
    /// Applies `transform` to every element with at most `maxConcurrent` calls in flight, and returns the
    /// results in the order of `elements`: the bounded-concurrency map that Python users write by hand.
    ///
    /// Elements start in order. The work runs on `maxConcurrent` tasks (fewer for fewer elements), each of which
    /// takes the next element as soon as its call returns, so a long map creates no task per element.
    /// The first call to throw cancels the others; its error is thrown once they have stopped, and the elements
    /// not yet started are never started.
    ///
    /// - Parameters:
    ///   - elements: The inputs.
    ///   - maxConcurrent: The most calls running at once; at least 1.
    ///   - transform: The async work per element.
    /// - Returns: The results, in input order.
    /// - Throws: The first error `transform` throws; `CancellationError` if the caller was cancelled before every
    ///   element had started.
    public func map<S: Sequence, T: Sendable>(
        _ elements: S,
        maxConcurrent: Int,
        _ transform: @escaping @Sendable (S.Element) async throws -> T
    ) async throws -> [T] where S.Element: Sendable {
        precondition(maxConcurrent >= 1, "maxConcurrent must be at least 1")
        let inputs = Array(elements)
        let run = SlotBuffer<S.Element, T>(inputs)
        let worker: @Sendable @isolated(any) () async throws -> Void = {
            while let (index, input) = run.claim() {
                // After the first error (or the caller's cancellation), start nothing more.
                if Task.isCancelled { throw CancellationError() }
                run.store(try await transform(input), at: index)
            }
        }
        try await withTaskExecutorPreference(executor) {
            try await withThrowingDiscardingTaskGroup { group in
                for _ in 0..<min(maxConcurrent, inputs.count) { group.addTask(operation: worker) }
            }
        }
        return run.take()
    }

    /// Applies `transform` to every element with at most `maxConcurrent` calls in flight, yielding each outcome
    /// as it completes, tagged with its input index. A failure does not end the stream; ending the iteration
    /// early cancels the calls in flight.
    ///
    /// - Parameters:
    ///   - elements: The inputs.
    ///   - maxConcurrent: The most calls running at once; at least 1.
    ///   - transform: The async work per element.
    /// - Returns: The outcomes in completion order.
    public func mapUnordered<S: Sequence, T: Sendable>(
        _ elements: S,
        maxConcurrent: Int,
        _ transform: @escaping @Sendable (S.Element) async throws -> T
    ) -> AsyncStream<JobCompletion<T>> where S.Element: Sendable {
        precondition(maxConcurrent >= 1, "maxConcurrent must be at least 1")
        let inputs = Array(elements)
        let (stream, continuation) = AsyncStream.makeStream(of: JobCompletion<T>.self)
        let task = Task(executorPreference: executor) {
            await withTaskGroup(of: JobCompletion<T>.self) { group in
                @Sendable func run(_ index: Int) async -> JobCompletion<T> {
                    do {
                        return JobCompletion(index: index, result: .success(try await transform(inputs[index])))
                    } catch {
                        return JobCompletion(index: index, result: .failure(error))
                    }
                }
                var next = 0
                while next < min(maxConcurrent, inputs.count) {
                    let index = next
                    group.addTask { await run(index) }
                    next += 1
                }
                while let completion = await group.next() {
                    continuation.yield(completion)
                    if next < inputs.count && !Task.isCancelled {
                        let index = next
                        group.addTask { await run(index) }
                        next += 1
                    }
                }
                continuation.finish()
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
